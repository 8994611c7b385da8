import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { serviceUrl } from "../../support/services.js";
import { eventually } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";
import {
  freshTopics,
  messageQueueTriggerSuite,
  type QueueBackend,
  startTrigger,
} from "./mq-trigger-suite.js";

const url = serviceUrl("redis");

function redisStreams(): QueueBackend {
  const redis = new Redis(url!);
  return {
    type: "redis",
    metadata: { address: url! },
    prepare: async () => undefined,
    produce: async (topic, body) => {
      await redis.xadd(topic, "*", "data", body);
    },
    read: async (topic) => {
      const entries = await redis.xrange(topic, "-", "+");
      return entries.map(([, fields]) => {
        const values: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) values[fields[i]!] = fields[i + 1]!;
        const { data = "", ...headers } = values;
        return { body: data, headers };
      });
    },
    close: async () => {
      redis.disconnect();
    },
  };
}

describe.skipIf(!url)("Redis Streams", () => {
  messageQueueTriggerSuite(redisStreams);
});

describe.skipIf(!url)("MessageQueueTrigger on Redis Streams, deleted entries", () => {
  it("a pending entry deleted before its ack is skipped: the next entry is still consumed", async () => {
    const harness = new SourceHarness();
    const queue = redisStreams();
    const redis = new Redis(url!);
    const topics = freshTopics();
    const name = `mqt-deleted-${topics.topic}`;
    try {
      // The first request is never answered: stopping the trigger leaves that entry pending.
      const subscriber = await harness.recordingSink((_request, index) =>
        index === 0 ? { hang: true } : { status: 202 },
      );
      await queue.produce(topics.topic, "pending");
      const first = await startTrigger(harness, queue, topics, {
        subscriberUrl: subscriber.url,
        name,
      });
      await subscriber.waitFor(1, 15_000);
      await first.stop();
      const [[pendingId]] = (await redis.xrange(topics.topic, "-", "+")) as [[string, string[]]];
      expect(await redis.xdel(topics.topic, pendingId)).toBe(1);

      await queue.produce(topics.topic, "next");
      await startTrigger(harness, queue, topics, { subscriberUrl: subscriber.url, name });
      await eventually(
        () => subscriber.events.some((event) => event.data?.toString() === "next"),
        15_000,
        "the entry after the deleted one",
      );
    } finally {
      await harness.close();
      await queue.close();
      await redis.del(topics.topic, topics.respTopic, topics.errorTopic);
      redis.disconnect();
    }
  });
});
