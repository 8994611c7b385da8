import { Redis } from "ioredis";
import { afterAll } from "vitest";
import { streamKey } from "../../src/backing/redis/keys.js";
import { serviceUrl } from "../support/services.js";
import { describeOrphans } from "./orphans-suite.js";

const url = serviceUrl("redis");
const redis = url ? new Redis(url, { maxRetriesPerRequest: 1 }) : undefined;
afterAll(() => redis?.disconnect());

describeOrphans({
  kind: "redis",
  // A short trim interval, so the test sees trimming after the last events within its wait.
  connection: () => (url ? { url, trimIntervalMs: "200" } : undefined),
  consumers: async (stream) => {
    const key = streamKey(stream);
    if ((await redis!.exists(key)) === 0) return [];
    const groups = (await redis!.xinfo("GROUPS", key)) as unknown[][];
    return groups.map((fields) => String(fields[fields.indexOf("name") + 1]));
  },
  retained: (stream) => redis!.xlen(streamKey(stream)),
  retainedWhenDone: 1,
  streamExists: async (stream) => (await redis!.exists(streamKey(stream))) === 1,
  forget: async (stream) => {
    await redis!.del(streamKey(stream));
  },
});
