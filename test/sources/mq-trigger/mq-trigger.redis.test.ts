import { Redis } from "ioredis";
import { describe } from "vitest";
import { serviceUrl } from "../../support/services.js";
import { messageQueueTriggerSuite, type QueueBackend } from "./mq-trigger-suite.js";

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
