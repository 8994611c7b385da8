import { connect, type NatsConnection, type Subscription } from "nats";
import { describe } from "vitest";
import { streamNameFor } from "../../../src/sources/mq-trigger/nats-queue.js";
import { serviceUrl } from "../../support/services.js";
import {
  messageQueueTriggerSuite,
  type QueueBackend,
  type ReadMessage,
} from "./mq-trigger-suite.js";

const url = serviceUrl("nats");

function natsJetStream(): QueueBackend {
  let nc: NatsConnection | undefined;
  const received = new Map<string, ReadMessage[]>();
  const subscriptions: Subscription[] = [];
  const streams: string[] = [];
  const listen = (subject: string) => {
    const messages: ReadMessage[] = [];
    received.set(subject, messages);
    const subscription = nc!.subscribe(subject, {
      callback: (_error, message) => {
        const headers: Record<string, string> = {};
        for (const [name, values] of message.headers ?? [])
          headers[name.toLowerCase()] = values.join(", ");
        messages.push({ body: Buffer.from(message.data).toString(), headers });
      },
    });
    subscriptions.push(subscription);
  };
  return {
    type: "nats",
    metadata: { natsServer: url! },
    // The input subject gets a stream of the test's own; the trigger creates the other two.
    prepare: async ({ topic, respTopic, errorTopic }) => {
      nc = await connect({ servers: url! });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({
        name: `TEST_${topic.replace(/[^A-Za-z0-9_-]/g, "_")}`,
        subjects: [topic],
      });
      streams.push(
        `TEST_${topic.replace(/[^A-Za-z0-9_-]/g, "_")}`,
        streamNameFor(respTopic),
        streamNameFor(errorTopic),
      );
      listen(respTopic);
      listen(errorTopic);
      await nc.flush();
    },
    produce: async (topic, body) => {
      await nc!.jetstream().publish(topic, Buffer.from(body));
    },
    read: async (topic) => [...(received.get(topic) ?? [])],
    close: async () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
      const jsm = await nc!.jetstreamManager();
      for (const stream of streams) await jsm.streams.delete(stream).catch(() => undefined);
      await nc!.drain();
    },
  };
}

describe.skipIf(!url)("NATS JetStream", () => {
  messageQueueTriggerSuite(natsJetStream);
});
