import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisBacking } from "../../../src/backing/redis/index.js";
import { parseRedisSettings } from "../../../src/backing/redis/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  Recorder,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");

/** Sets up consumer groups on a stream of five entries; returns the indexes that must survive. */
type Scenario = (redis: Redis, key: string, ids: string[]) => Promise<number[]>;

async function readAll(redis: Redis, key: string, group: string, from: string, ack: string[]) {
  await redis.xgroup("CREATE", key, group, from);
  await redis.xreadgroup("GROUP", group, "member-1", "STREAMS", key, ">");
  if (ack.length > 0) await redis.xack(key, group, ...ack);
}

const SCENARIOS: Array<[string, Scenario]> = [
  ["no consumer group: every entry goes, since no future group could read it", async () => []],
  [
    "one group that acknowledged everything: only its last-delivered entry stays",
    async (redis, key, ids) => {
      await readAll(redis, key, "a", "0", ids);
      return [4];
    },
  ],
  [
    "a pending entry stays, with everything after it",
    async (redis, key, ids) => {
      await readAll(redis, key, "a", "0", [ids[0]!, ids[1]!, ids[3]!, ids[4]!]);
      return [2, 3, 4];
    },
  ],
  [
    "a group that has not read to the end keeps what it has not read (from its last-delivered entry)",
    async (redis, key, ids) => {
      await readAll(redis, key, "a", "0", ids);
      await redis.xgroup("CREATE", key, "b", ids[1]!);
      return [1, 2, 3, 4];
    },
  ],
  [
    "the oldest pending entry of any group decides",
    async (redis, key, ids) => {
      await readAll(redis, key, "a", "0", [ids[0]!, ids[1]!, ids[2]!, ids[4]!]);
      await readAll(redis, key, "b", "0", [ids[0]!, ids[2]!, ids[3]!, ids[4]!]);
      return [1, 2, 3, 4];
    },
  ],
];

describe.skipIf(!url)("redis backing retention (trimming acknowledged entries)", () => {
  let backing: RedisBacking;
  let redis: Redis;

  beforeAll(async () => {
    const settings = parseRedisSettings({
      kind: "redis",
      settings: { url: url!, trimIntervalMs: "3600000", consumerExpiryMs: "1" },
    });
    backing = new RedisBacking(settings, silentLogger());
    await backing.connect();
    redis = new Redis(url!);
  });

  afterAll(async () => {
    await backing.close();
    redis.disconnect();
  });

  async function fiveEntries(): Promise<{ key: string; ids: string[] }> {
    const stream = uniqueStream("retention");
    await backing.publish(stream, testEvents("e", 5));
    const key = `eventail:${stream}`;
    const ids = (await redis.xrange(key, "-", "+")).map(([id]) => id);
    return { key, ids };
  }

  it.each(SCENARIOS)("%s", async (_, scenario) => {
    const { key, ids } = await fiveEntries();
    const survivors = await scenario(redis, key, ids);
    await backing.maintain();
    const left = (await redis.xrange(key, "-", "+")).map(([id]) => id);
    expect(left).toEqual(survivors.map((index) => ids[index]));
  });

  it.each([
    ["a silent member with nothing pending is removed from its group", true, []],
    ["a silent member that still owns entries stays (they wait for reclaim)", false, ["member-1"]],
  ])("%s", async (_, ackEverything: boolean, members: string[]) => {
    const { key, ids } = await fiveEntries();
    const group = uniqueName("g");
    await readAll(redis, key, group, "0", ackEverything ? ids : ids.slice(1));
    await sleep(20);
    await backing.maintain();
    const left = (await redis.xinfo("CONSUMERS", key, group)) as string[][];
    expect(left.map((fields) => fields[1])).toEqual(members);
  });

  it("a stream this process reads that lost its groups keeps what arrives until they are back", async () => {
    const stream = uniqueStream("lost-groups");
    const key = `eventail:${stream}`;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const recorder = new Recorder(async (event) => {
      if (String(event.attributes["id"]).startsWith("held")) await gate;
    });
    const subscription = await backing.subscribe(stream, "trigger.default.lost", recorder.handler, {
      concurrency: 1,
      ordered: false,
    });
    try {
      // One running, one waiting: the window (concurrency 1 + read-ahead 1) is full, so the
      // subscription reads nothing until the held event finishes.
      await backing.publish(stream, testEvents("held", 2));
      await waitFor(() => recorder.inFlight === 1, 5_000, "the first held event running");
      // Redis loses its data (a restart without persistence); producers go on.
      await redis.del(key);
      await backing.publish(stream, testEvents("after", 3));
      await backing.maintain();
      expect(await redis.xlen(key)).toBe(3);
      release();
      await waitFor(
        () => ["after-0", "after-1", "after-2"].every((id) => recorder.distinctIds().has(id)),
        10_000,
        "the events that arrived after the loss",
      );
    } finally {
      release();
      await subscription.close();
    }
  });

  it("a stream that received trimAfterEntries entries is trimmed without waiting for the interval", async () => {
    const trimming = new RedisBacking(
      parseRedisSettings({
        kind: "redis",
        settings: { url: url!, trimIntervalMs: "3600000", trimAfterEntries: "20" },
      }),
      silentLogger(),
    );
    try {
      await trimming.connect();
      const stream = uniqueStream("early-trim");
      const recorder = new Recorder();
      await trimming.subscribe(stream, "trigger.default.early", recorder.handler, {
        concurrency: 4,
        ordered: false,
      });
      await trimming.publish(stream, testEvents("a", 15));
      await waitFor(() => recorder.completed === 15, 5_000, "the first events handled");
      const key = `eventail:${stream}`;
      // Under the threshold: nothing trims yet (the interval is an hour).
      await sleep(200);
      expect(await redis.xlen(key)).toBe(15);
      // The publish that crosses it trims what every group acknowledged.
      await trimming.publish(stream, testEvents("b", 5));
      const deadline = Date.now() + 3_000;
      let length = await redis.xlen(key);
      while (length > 5 && Date.now() < deadline) {
        await sleep(50);
        length = await redis.xlen(key);
      }
      expect(length).toBeLessThanOrEqual(5);
      await waitFor(() => recorder.completed === 20, 5_000, "every event handled");
    } finally {
      await trimming.close();
    }
  });

  it("a backing trims the streams it uses by itself, every trimIntervalMs", async () => {
    const trimming = new RedisBacking(
      parseRedisSettings({ kind: "redis", settings: { url: url!, trimIntervalMs: "200" } }),
      silentLogger(),
    );
    try {
      await trimming.connect();
      const stream = uniqueStream("auto-trim");
      const recorder = new Recorder();
      await trimming.subscribe(stream, "trigger.default.trim", recorder.handler, {
        concurrency: 4,
        ordered: false,
      });
      await trimming.publish(stream, testEvents("t", 10));
      await waitFor(() => recorder.completed === 10, 5_000, "every event handled");
      const key = `eventail:${stream}`;
      const deadline = Date.now() + 3_000;
      let length = await redis.xlen(key);
      while (length > 1 && Date.now() < deadline) {
        await sleep(50);
        length = await redis.xlen(key);
      }
      expect(length).toBe(1);
    } finally {
      await trimming.close();
    }
  });
});
