import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { ArchiveRing } from "../../src/backing/memory/archive-ring.js";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import { RedisBacking } from "../../src/backing/redis/index.js";
import { parseRedisSettings } from "../../src/backing/redis/settings.js";
import { encodeForStorage } from "../../src/events/json-format.js";
import { silentLogger } from "../../src/observability/logger.js";
import { idOf, testEvent, testEvents, uniqueStream } from "../conformance/conformance-support.js";
import { serviceUrl } from "../support/services.js";

const url = serviceUrl("redis");

async function ids(backing: Backing, stream: string, from: number, to: number) {
  const found: string[] = [];
  for await (const { event } of backing.archive!.read(stream, from, to)) found.push(idOf(event));
  return found;
}

/** Waits until the clock passes `ms`, so events published after it are stamped later. */
function passClock(ms: number): void {
  while (Date.now() <= ms) {
    // spin: at most a couple of milliseconds
  }
}

describe("memory archive ring", () => {
  it("keeps at most its capacity, dropping the oldest", () => {
    const ring = new ArchiveRing(60_000, 3);
    ring.append(testEvents("e", 5), Date.now());
    expect(ring.window(0, Number.MAX_SAFE_INTEGER).map((e) => idOf(e.event))).toEqual([
      "e-2",
      "e-3",
      "e-4",
    ]);
  });

  it("lets go of events older than the retention", () => {
    const ring = new ArchiveRing(1_000, 10);
    const now = Date.now();
    ring.append([testEvent("old")], now - 5_000);
    ring.append([testEvent("new")], now);
    expect(ring.window(0, Number.MAX_SAFE_INTEGER).map((e) => idOf(e.event))).toEqual(["new"]);
  });

  it("a memory stream keeps nothing without retention, and a window with it", async () => {
    const backing = new MemoryBacking();
    try {
      await backing.publish("plain", [testEvent("p")]);
      expect(await ids(backing, "plain", 0, Number.MAX_SAFE_INTEGER)).toEqual([]);
      await backing.retainStream("kept", 60_000);
      await backing.publish("kept", [testEvent("a")]);
      const from = Date.now();
      passClock(from);
      await backing.publish("kept", [testEvent("b")]);
      const to = Date.now() + 1;
      passClock(to);
      await backing.publish("kept", [testEvent("c")]);
      expect(await ids(backing, "kept", from + 1, to)).toEqual(["b"]);
      expect(await ids(backing, "kept", 0, Number.MAX_SAFE_INTEGER)).toEqual(["a", "b", "c"]);
    } finally {
      await backing.close();
    }
  });
});

describe.skipIf(!url)("redis archive (retention trims by time)", () => {
  let backing: RedisBacking;
  let redis: Redis;

  beforeAll(async () => {
    const settings = parseRedisSettings({
      kind: "redis",
      settings: { url: url!, trimIntervalMs: "3600000" },
    });
    backing = new RedisBacking(settings, silentLogger());
    await backing.connect();
    redis = new Redis(url!);
  });

  afterAll(async () => {
    await backing.close();
    redis.disconnect();
  });

  it("reads the window by entry time, [from, to)", async () => {
    const stream = uniqueStream("archive");
    const key = `eventail:${stream}`;
    for (const [ms, id] of [
      [1_000, "a"],
      [2_000, "b"],
      [2_999, "c"],
      [3_000, "d"],
    ] as const) {
      await redis.xadd(key, `${ms}-0`, "event", encodeForStorage(testEvent(id)));
    }
    expect(await ids(backing, stream, 1_500, 3_000)).toEqual(["b", "c"]);
    expect(await ids(backing, stream, 0, 10_000)).toEqual(["a", "b", "c", "d"]);
    await redis.del(key);
  });

  it("reads past one page", async () => {
    const stream = uniqueStream("archive-pages");
    await backing.retainStream(stream, 60_000);
    await backing.publish(stream, testEvents("p", 1_203));
    const found = await ids(backing, stream, 0, Date.now() + 1_000);
    expect(found).toHaveLength(1_203);
    expect(found[1_202]).toBe("p-1202");
    await backing.removeStream(stream);
  });

  it("with retention, keeps acknowledged entries younger than it and trims older ones", async () => {
    const stream = uniqueStream("retained");
    const key = `eventail:${stream}`;
    const old = Date.now() - 120_000;
    await redis.xadd(key, `${old}-0`, "event", encodeForStorage(testEvent("old")));
    await backing.retainStream(stream, 60_000);
    await backing.publish(stream, testEvents("young", 3));
    // A group that has read and acknowledged everything would let every entry go by acks alone.
    await redis.xgroup("CREATE", key, "g", "0");
    const read = (await redis.xreadgroup("GROUP", "g", "m", "STREAMS", key, ">")) as [
      string,
      [string, string[]][],
    ][];
    await redis.xack(key, "g", ...read[0]![1].map(([id]) => id));
    await backing.maintain();
    expect(await ids(backing, stream, 0, Date.now() + 1_000)).toEqual([
      "young-0",
      "young-1",
      "young-2",
    ]);
    // Without retention the same stream is trimmed by acknowledgements again.
    await backing.retainStream(stream, undefined);
    await backing.maintain();
    expect(await redis.xlen(key)).toBe(1);
    await redis.del(key);
  });
});
