import { type ChannelModel, connect } from "amqplib";
import { describe, expect, it } from "vitest";
import { serviceUrl } from "../../support/services.js";
import { eventually } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";
import {
  freshTopics,
  messageQueueTriggerSuite,
  type QueueBackend,
  type ReadMessage,
  startTrigger,
} from "./mq-trigger-suite.js";

const url = serviceUrl("rabbitmq");

function rabbitQueues(): QueueBackend {
  let model: Promise<ChannelModel> | undefined;
  const declared: string[] = [];
  const channel = async () => {
    model ??= connect(url!);
    const ch = await (await model).createConfirmChannel();
    ch.on("error", () => undefined);
    return ch;
  };
  return {
    type: "rabbitmq",
    metadata: { host: url! },
    prepare: async (topics) => {
      const ch = await channel();
      for (const queue of [topics.topic, topics.respTopic, topics.errorTopic]) {
        await ch.assertQueue(queue, { durable: true });
        declared.push(queue);
      }
      await ch.close();
    },
    produce: async (topic, body) => {
      const ch = await channel();
      ch.sendToQueue(topic, Buffer.from(body), { persistent: true });
      await ch.waitForConfirms();
      await ch.close();
    },
    // Reads without consuming for good: every message is got and then requeued.
    read: async (topic) => {
      const ch = await channel();
      const out: ReadMessage[] = [];
      for (;;) {
        const msg = await ch.get(topic, { noAck: false });
        if (msg === false) break;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(msg.properties.headers ?? {})) headers[k] = String(v);
        out.push({ body: msg.content.toString("utf8"), headers });
      }
      await ch.close(); // unacked gets go back to the queue, in order
      return out;
    },
    close: async () => {
      if (!model) return;
      const m = await model;
      const ch = await m.createChannel();
      for (const queue of declared) await ch.deleteQueue(queue);
      await m.close();
    },
  };
}

describe.skipIf(!url)("RabbitMQ queues", () => {
  messageQueueTriggerSuite(rabbitQueues);
});

describe.skipIf(!url)("MessageQueueTrigger on RabbitMQ, channel-level ends", () => {
  it("goes on consuming after its queue is deleted and declared again (the server cancels the consumer)", async () => {
    const harness = new SourceHarness();
    const queue = rabbitQueues();
    const topics = freshTopics();
    try {
      const subscriber = await harness.recordingSink();
      await queue.prepare(topics);
      await startTrigger(harness, queue, topics, { subscriberUrl: subscriber.url });
      await queue.produce(topics.topic, "before");
      await subscriber.waitFor(1, 15_000);
      const admin = await connect(url!);
      try {
        const channel = await admin.createChannel();
        await channel.deleteQueue(topics.topic);
        await channel.assertQueue(topics.topic, { durable: true });
        await channel.close();
      } finally {
        await admin.close();
      }
      await queue.produce(topics.topic, "after");
      await eventually(
        () => subscriber.events.some((event) => event.data?.toString() === "after"),
        15_000,
        "the message sent after the queue came back",
      );
    } finally {
      await harness.close();
      await queue.close();
    }
  });

  it("a refused publish does not break later ones: the next reply or error still goes out", async () => {
    const harness = new SourceHarness();
    const queue = rabbitQueues();
    const topics = freshTopics();
    try {
      // The first message is answered, its reply refused; the second fails, its error must arrive.
      const subscriber = await harness.recordingSink((_request, index) =>
        index === 0 ? { status: 200, body: "answer" } : { status: 400, body: "nope" },
      );
      await queue.prepare(topics);
      await startTrigger(harness, queue, topics, {
        subscriberUrl: subscriber.url,
        // RabbitMQ refuses to declare a queue named amq.* (403) and closes the channel.
        spec: { respTopic: `amq.eventail-${topics.respTopic}` },
      });
      await queue.produce(topics.topic, "first");
      await subscriber.waitFor(1, 15_000);
      await queue.produce(topics.topic, "second");
      await eventually(
        async () => (await queue.read(topics.errorTopic)).length === 1,
        15_000,
        "the second message at errorTopic",
      );
      const [failed] = await queue.read(topics.errorTopic);
      expect(failed?.body).toBe("second");
    } finally {
      await harness.close();
      await queue.close();
    }
  });
});
