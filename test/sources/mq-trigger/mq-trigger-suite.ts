import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_DELIVERY } from "../../../src/delivery/options.js";
import { silentLogger } from "../../../src/observability/logger.js";
import type { ConsumerTuning } from "../../../src/sources/kafka/record-consumer.js";
import {
  MessageQueueTrigger,
  type MessageQueueTriggerSpec,
} from "../../../src/sources/mq-trigger/mq-trigger.js";
import { createMessageQueue } from "../../../src/sources/mq-trigger/queues.js";
import { eventually, type RecordingSink } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

export interface ReadMessage {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** What the suite needs from one queue technology, talking to it directly. */
export interface QueueBackend {
  readonly type: MessageQueueTriggerSpec["messageQueueType"];
  /** spec.metadata pointing at the test's engine. */
  readonly metadata: Record<string, string>;
  /** Prepares topics before the trigger starts (NATS: a stream for the input subject). */
  prepare(topics: Topics): Promise<void>;
  produce(topic: string, body: string): Promise<void>;
  /** Everything published to `topic` so far (since prepare). */
  read(topic: string): Promise<ReadMessage[]>;
  close(): Promise<void>;
}

/**
 * One MessageQueueTrigger suite, run against Kafka, NATS JetStream and Redis Streams by the
 * *.kafka / *.nats / *.redis test files (BullMQ's pattern).
 */
export function messageQueueTriggerSuite(
  backend: () => QueueBackend,
  tuning: ConsumerTuning = {},
): void {
  let harness: SourceHarness;
  let subscriber: RecordingSink;
  let queue: QueueBackend;
  let topics: Topics;
  const name = `mqt-${randomUUID().slice(0, 8)}`;

  beforeEach(async () => {
    harness = new SourceHarness();
    subscriber = await harness.recordingSink();
    queue = backend();
    topics = freshTopics();
    await queue.prepare(topics);
  });
  afterEach(async () => {
    await harness.close();
    await queue.close();
  });

  function start(
    spec: Partial<MessageQueueTriggerSpec> = {},
    triggerName = name,
    subscriberUrl = subscriber.url,
  ) {
    return startTrigger(harness, queue, topics, { spec, name: triggerName, subscriberUrl, tuning });
  }

  describe(`MessageQueueTrigger on ${backend.name}`, () => {
    it("delivers each message as a CloudEvent and publishes the 2xx answer's body to respTopic", async () => {
      subscriber.respondWith((request) => ({
        status: 200,
        headers: { "content-type": "text/plain" },
        body: `echo:${request.body.toString()}`,
      }));
      await queue.produce(topics.topic, "hello");
      await start();
      await subscriber.waitFor(1, 30_000);
      expect(subscriber.events[0]?.attributes).toMatchObject({
        type: "dev.eventail.mqtrigger.message",
        source: `/apis/v1alpha1/namespaces/default/messagequeuetriggers/${name}`,
        subject: topics.topic,
        datacontenttype: "text/plain",
      });
      expect(subscriber.events[0]?.data?.toString()).toBe("hello");
      await eventually(
        async () => (await queue.read(topics.respTopic)).length === 1,
        15_000,
        "the reply",
      );
      const [reply] = await queue.read(topics.respTopic);
      expect(reply?.body).toBe("echo:hello");
      expect(reply?.headers["content-type"]).toBe("text/plain");
      expect(await queue.read(topics.errorTopic)).toEqual([]);
    });

    it.each<[string, number, number, number]>([
      [
        "a subscriber failing with 503 is tried exactly maxRetries + 1 times, then the message goes to errorTopic",
        2,
        503,
        3,
      ],
      ["with maxRetries 0 there is exactly one attempt", 0, 503, 1],
      ["a 400 is not retried: one attempt, then errorTopic", 4, 400, 1],
    ])("%s", async (_name, maxRetries, status, attempts) => {
      subscriber.respondWith(() => ({ status, body: "nope" }));
      await queue.produce(topics.topic, "doomed");
      await start({ maxRetries });
      await eventually(
        async () => (await queue.read(topics.errorTopic)).length === 1,
        30_000,
        "the error",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(subscriber.requests).toHaveLength(attempts);
      const [failed] = await queue.read(topics.errorTopic);
      expect(failed?.body).toBe("doomed");
      expect(failed?.headers["status"]).toBe(String(status));
      expect(failed?.headers["topic"]).toBe(topics.topic);
      expect(failed?.headers["error"]).toBe(`HTTP ${status}: nope`);
      expect(await queue.read(topics.respTopic)).toEqual([]);
    });

    it("a subscriber that refuses connections: errorTopic gets the connection error and an empty status", async () => {
      await queue.produce(topics.topic, "unheard");
      await start({ maxRetries: 1 }, name, await refusingUrl());
      await eventually(
        async () => (await queue.read(topics.errorTopic)).length === 1,
        30_000,
        "the error",
      );
      const [failed] = await queue.read(topics.errorTopic);
      expect(failed?.body).toBe("unheard");
      expect(failed?.headers["status"]).toBe("");
      expect(failed?.headers["error"]).toMatch(/ECONNREFUSED/);
      expect(await queue.read(topics.respTopic)).toEqual([]);
    });

    it("an answer that is a CloudEvent (binary mode) goes to respTopic as its data and content type", async () => {
      subscriber.respondWith(() => ({
        status: 200,
        headers: {
          "ce-specversion": "1.0",
          "ce-id": "r1",
          "ce-source": "/subscriber",
          "ce-type": "com.example.answer",
          "content-type": "application/json",
        },
        body: '{"ok":true}',
      }));
      await queue.produce(topics.topic, "question");
      await start();
      await eventually(
        async () => (await queue.read(topics.respTopic)).length === 1,
        30_000,
        "the reply",
      );
      const [reply] = await queue.read(topics.respTopic);
      expect(reply?.body).toBe('{"ok":true}');
      expect(reply?.headers["content-type"]).toBe("application/json");
    });

    it("with no errorTopic a failed message is dropped, and counted as dropped", async () => {
      subscriber.respondWith(() => ({ status: 400, body: "nope" }));
      await queue.produce(topics.topic, "doomed");
      await start({ errorTopic: undefined });
      await subscriber.waitFor(1, 30_000);
      await eventually(
        async () =>
          (await harness.metrics.droppedEvents.get()).values.some(
            (v) => v.labels["reason"] === "delivery-failed" && v.value === 1,
          ),
        15_000,
        "the drop to be counted",
      );
      expect(await queue.read(topics.errorTopic)).toEqual([]);
      expect(await queue.read(topics.respTopic)).toEqual([]);
    });

    it("acknowledges what it handled: a restarted trigger goes on with the next message only", async () => {
      await queue.produce(topics.topic, "first");
      await queue.produce(topics.topic, "second");
      const first = await start();
      await subscriber.waitFor(2, 30_000);
      await eventually(
        async () => (await queue.read(topics.respTopic)).length === 2,
        15_000,
        "two replies",
      );
      await first.stop();
      await queue.produce(topics.topic, "third");
      await start();
      await subscriber.waitFor(3, 30_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(subscriber.events.map((e) => e.data?.toString())).toEqual([
        "first",
        "second",
        "third",
      ]);
    });
  });
}

export interface Topics {
  readonly topic: string;
  readonly respTopic: string;
  readonly errorTopic: string;
}

/** Fresh topic names for one test. */
export function freshTopics(): Topics {
  const id = randomUUID().slice(0, 8);
  return { topic: `requests-${id}`, respTopic: `responses-${id}`, errorTopic: `errors-${id}` };
}

/**
 * Starts a MessageQueueTrigger on `queue`'s engine towards `subscriberUrl`, as the reconciler
 * would; the harness stops it at close(). The backends' own tests use it too.
 */
export async function startTrigger(
  harness: SourceHarness,
  queue: QueueBackend,
  topics: Topics,
  options: {
    subscriberUrl: string;
    spec?: Partial<MessageQueueTriggerSpec>;
    name?: string;
    tuning?: ConsumerTuning;
  },
): Promise<{ stop: () => Promise<void> }> {
  const triggerName = options.name ?? `mqt-${randomUUID().slice(0, 8)}`;
  const full: MessageQueueTriggerSpec = {
    messageQueueType: queue.type,
    ...topics,
    contentType: "text/plain",
    metadata: queue.metadata,
    ...options.spec,
  };
  const trigger = new MessageQueueTrigger({
    namespace: "default",
    name: triggerName,
    spec: full,
    queue: createMessageQueue(
      {
        namespace: "default",
        name: triggerName,
        type: full.messageQueueType,
        topic: full.topic,
        metadata: full.metadata!,
      },
      silentLogger(),
      {},
      options.tuning ?? {},
    ),
    dispatcher: harness.dispatcher,
    subscriberUrl: options.subscriberUrl,
    delivery: { ...DEFAULT_DELIVERY, backoffDelayMs: 50, timeoutMs: 5_000 },
    logger: silentLogger(),
  });
  await trigger.start();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await trigger.stop();
  };
  harness.defer(stop);
  return { stop };
}

/** A URL nothing listens on: a port bound, read and closed again. */
async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/subscriber`;
}
