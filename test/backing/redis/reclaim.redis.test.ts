import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  Gate,
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");
const UNORDERED = { concurrency: 4, ordered: false };
const RECLAIM_IDLE_MS = 600;
const RECLAIM_INTERVAL_MS = 100;

/** Who owns what in the stream's consumer group, straight from Redis. */
async function pendingOf(redis: Redis, stream: string, group: string) {
  const rows = (await redis.xpending(`eventail:${stream}`, group, "-", "+", 100)) as Array<
    [string, string, number, number]
  >;
  return rows.map(([id, member, , deliveries]) => ({ id, member, deliveries }));
}

describe.skipIf(!url)("redis backing reclaim and keepAlive", () => {
  const backings: Backing[] = [];
  const clients: Redis[] = [];

  async function process(settings: Record<string, string> = {}): Promise<Backing> {
    const backing = await createBacking(
      {
        kind: "redis",
        settings: {
          url: url!,
          reclaimIdleMs: String(RECLAIM_IDLE_MS),
          reclaimIntervalMs: String(RECLAIM_INTERVAL_MS),
          retryDelayMs: "100",
          ...settings,
        },
      },
      { logger: silentLogger() },
    );
    backings.push(backing);
    return backing;
  }

  function rawClient(): Redis {
    const client = new Redis(url!);
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    Gate.releaseAll();
    await Promise.all(backings.splice(0).map((b) => b.close()));
    for (const client of clients.splice(0)) client.disconnect();
  });

  it.each([
    ["a live handler calling keepAlive keeps its event: the other process never gets it", true, 0],
    ["a handler that never calls keepAlive loses its event to the other process", false, 1],
  ])(
    "%s",
    async (_, keepsAlive, stolen) => {
      const stream = uniqueStream("keepalive");
      const consumer = uniqueName("trigger");
      const busyMs = RECLAIM_IDLE_MS * 4;
      const slow = new Recorder(async (_event, meta) => {
        const until = Date.now() + busyMs;
        while (Date.now() < until) {
          if (keepsAlive) meta.keepAlive();
          await sleep(100);
        }
      });
      const other = new Recorder();
      const first = await process();
      await first.subscribe(stream, consumer, slow.handler, UNORDERED);
      await first.publish(stream, [testEvent("slow")]);
      await waitFor(() => slow.inFlight === 1, 5_000, "the slow handler to start");
      await (await process()).subscribe(stream, consumer, other.handler, UNORDERED);

      await waitFor(() => slow.completed === 1, busyMs + 5_000, "the slow handler to finish");
      await sleep(RECLAIM_IDLE_MS + 2 * RECLAIM_INTERVAL_MS);
      expect(other.received).toHaveLength(stolen);
      if (stolen) expect(other.received[0]!.deliveryCount).toBe(2);
      expect(slow.received).toHaveLength(1);
      expect(await pendingOf(rawClient(), stream, consumer)).toEqual([]);
    },
    20_000,
  );

  it.each([
    ["read once", 1, 2],
    ["already redelivered twice", 3, 4],
  ])(
    "a crashed member's events (%s) reach a surviving process with the pending list's deliveryCount + 1",
    async (_, deliveriesBeforeCrash, expectedCount) => {
      const stream = uniqueStream("crash");
      const consumer = uniqueName("trigger");
      const key = `eventail:${stream}`;
      const crashed = rawClient();
      await crashed.xgroup("CREATE", key, consumer, "$", "MKSTREAM");
      const survivorProcess = await process();
      const events = testEvents("orphan", 3);
      await survivorProcess.publish(stream, events);
      // What a process that read these entries and then died leaves behind in Redis.
      await crashed.xreadgroup(
        "GROUP",
        consumer,
        "dead-host:1:00000000",
        "COUNT",
        10,
        "STREAMS",
        key,
        ">",
      );
      for (const { id } of await pendingOf(crashed, stream, consumer)) {
        await crashed.xclaim(
          key,
          consumer,
          "dead-host:1:00000000",
          0,
          id,
          "RETRYCOUNT",
          deliveriesBeforeCrash,
          "JUSTID",
        );
      }
      crashed.disconnect();

      const survivor = new Recorder();
      const subscribed = Date.now();
      await survivorProcess.subscribe(stream, consumer, survivor.handler, UNORDERED);
      await waitFor(
        () => survivor.hasAll(events.map(idOf)),
        10_000,
        "the orphaned events",
        () => survivor.ids(),
      );
      expect(Date.now() - subscribed).toBeLessThan(RECLAIM_IDLE_MS + 10 * RECLAIM_INTERVAL_MS);
      expect(survivor.received.map((r) => r.deliveryCount)).toEqual([
        expectedCount,
        expectedCount,
        expectedCount,
      ]);
      await waitFor(() => survivor.completed === 3, 5_000, "the handlers");
      const probe = rawClient();
      await sleep(50);
      expect(await pendingOf(probe, stream, consumer)).toEqual([]);
    },
    20_000,
  );

  it("with the default threshold, a crashed member's event comes back within 10–30 s", async () => {
    const stream = uniqueStream("default-reclaim");
    const consumer = uniqueName("trigger");
    const key = `eventail:${stream}`;
    const crashed = rawClient();
    await crashed.xgroup("CREATE", key, consumer, "$", "MKSTREAM");
    const survivorProcess = await createBacking(
      { kind: "redis", settings: { url: url! } },
      { logger: silentLogger() },
    );
    backings.push(survivorProcess);
    await survivorProcess.publish(stream, [testEvent("orphan")]);
    await crashed.xreadgroup("GROUP", consumer, "dead-host:2:00000000", "STREAMS", key, ">");
    const crashedAt = Date.now();
    const survivor = new Recorder();
    await survivorProcess.subscribe(stream, consumer, survivor.handler, UNORDERED);
    await waitFor(() => survivor.received.length === 1, 31_000, "the orphaned event");
    const after = Date.now() - crashedAt;
    expect(after).toBeGreaterThanOrEqual(10_000);
    expect(after).toBeLessThanOrEqual(30_000);
  }, 40_000);

  it("each handler rejection counts one more delivery in Redis, so another process would see it", async () => {
    const stream = uniqueStream("reject");
    const consumer = uniqueName("trigger");
    const probe = rawClient();
    const seenInRedis: number[] = [];
    const recorder = new Recorder(async (_event, meta) => {
      const [row] = await pendingOf(probe, stream, consumer);
      seenInRedis.push(row!.deliveries);
      if (meta.deliveryCount < 3) throw new Error("subscriber unavailable");
    });
    const backing = await process();
    await backing.subscribe(stream, consumer, recorder.handler, UNORDERED);
    await backing.publish(stream, [testEvent("flaky")]);
    await waitFor(() => recorder.completed === 3, 10_000, "three attempts");
    expect(recorder.received.map((r) => r.deliveryCount)).toEqual([1, 2, 3]);
    expect(seenInRedis).toEqual([1, 2, 3]);
    await sleep(100);
    expect(await pendingOf(probe, stream, consumer)).toEqual([]);
  }, 15_000);

  it("closing a subscription hands its unacknowledged events to another process at once, not after the idle threshold", async () => {
    const stream = uniqueStream("handback");
    const consumer = uniqueName("trigger");
    const stuck = new Gate();
    const leaving = new Recorder(() => stuck.promise);
    // A long threshold: only the hand-back on close can explain a quick takeover.
    const slowReclaim = { reclaimIdleMs: "20000", reclaimIntervalMs: "100" };
    const first = await process(slowReclaim);
    const subscription = await first.subscribe(stream, consumer, leaving.handler, {
      concurrency: 1,
      ordered: false,
    });
    const events = testEvents("h", 4);
    await first.publish(stream, events);
    await waitFor(() => leaving.inFlight === 1, 5_000, "the first handler");
    const successor = new Recorder();
    const second = await process(slowReclaim);
    await second.subscribe(stream, consumer, successor.handler, UNORDERED);
    await subscription.close(0);
    await waitFor(
      () => successor.hasAll(events.map(idOf)),
      3_000,
      "every event at the successor",
      () => successor.ids(),
    );
    expect(leaving.received).toHaveLength(1);
  }, 15_000);

  it("an entry Redis assigns to this process's member but the process never saw (a lost read reply) comes back to it", async () => {
    const stream = uniqueStream("lost-read");
    const consumer = uniqueName("trigger");
    const key = `eventail:${stream}`;
    const gate = new Gate();
    const recorder = new Recorder(() => gate.promise);
    const backing = await process();
    await backing.subscribe(stream, consumer, recorder.handler, { concurrency: 1, ordered: false });
    // One running and one read ahead fill the window, so the member stops reading.
    await backing.publish(stream, testEvents("held", 2));
    const probe = rawClient();
    await waitFor(() => recorder.inFlight === 1, 5_000, "the first handler");
    await sleep(100);
    const members = (await probe.xinfo("CONSUMERS", key, consumer)) as string[][];
    const member = members[0]![1]!;
    await backing.publish(stream, [testEvent("lost")]);
    await probe.xreadgroup("GROUP", consumer, member, "COUNT", 1, "STREAMS", key, ">");
    gate.release();
    await waitFor(
      () => recorder.ids().includes("lost"),
      5_000,
      "the lost entry",
      () => recorder.ids(),
    );
    const lost = recorder.received.find((r) => idOf(r.event) === "lost")!;
    expect(lost.deliveryCount).toBe(2);
    await waitFor(() => recorder.completed === 3, 5_000, "every handler");
    await sleep(100);
    expect(await pendingOf(probe, stream, consumer)).toEqual([]);
  }, 15_000);
});
