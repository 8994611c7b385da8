import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouteRecord } from "../../../src/backing/journey.js";
import { routeSupersedes } from "../../../src/backing/journey-index.js";
import {
  bucketMs,
  bucketOf,
  journeyField,
  journeyKey,
  journeyLine,
  RETENTIONS_KEY,
  RedisJourneyStore,
} from "../../../src/backing/redis/journey-store.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { canStartRedisEngine, startRedisEngine } from "../../support/redis-engine.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");

/** A retention no other test names, so its buckets hold this test's reports only. */
const uniqueRetention = () => 3_600_000 * 64 + Math.floor(Math.random() * 1e6) * 64;

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(25);
  }
  throw new Error(`never: ${what}`);
}

/**
 * Lets the reports made so far go: the store sends them at the end of the turn they were made
 * in, and a lookup sent after them on the one connection finds them stored.
 */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** Calls of each command since the last CONFIG RESETSTAT, those a script made included. */
async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const [, name, count] of (await redis.info("commandstats")).matchAll(
    /cmdstat_(\w+):calls=(\d+)/g,
  )) {
    calls[name!] = Number(count);
  }
  return calls;
}

const accepted = { at: Date.now(), stream: "broker.default.b", size: 3, type: "t" };
const route = (outcome: RouteRecord["outcome"], name = "t1"): RouteRecord => ({
  kind: "Trigger",
  name,
  outcome,
});

describe.skipIf(!url)("Redis journey store (a hash per time bucket)", () => {
  let redis: Redis;
  let store: RedisJourneyStore;
  const retentions: number[] = [];

  beforeAll(async () => {
    redis = new Redis(url!);
    store = new RedisJourneyStore(redis, silentLogger());
    await until(async () => redis.status === "ready", "redis ready");
  });

  afterAll(async () => {
    for (const ttl of retentions) {
      const keys = await redis.keys(`eventail:journeys:${ttl}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.hdel(RETENTIONS_KEY, String(ttl));
    }
    redis.disconnect();
  });

  it("keeps a turn's reports in the event's field of one bucket that expires after the retention", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const id = randomUUID();
    store.writeAccepted("default", id, "/s", accepted, ttl);
    store.writeRoute("default", id, "/s", route("pending"), ttl);
    store.writeRoute("default", id, "/s", route("delivered"), ttl);
    store.writeRoute("default", id, "/s", route("filtered-out", "t2"), ttl);
    const { key } = bucketOf(ttl, Date.now());
    const field = journeyField("default", id);
    // One line per slot: t1's delivered replaced its pending in the store.
    await until(
      async () => ((await redis.hget(key, field)) ?? "").split("\n").length === 4,
      "three lines",
    );
    expect(await redis.hget(key, field)).not.toContain('"pending"');
    expect(await redis.keys(`eventail:journeys:${ttl}:*`)).toEqual([key]);
    expect(await redis.hlen(key)).toBe(1);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(ttl);
    expect(pttl).toBeLessThanOrEqual(ttl + 2 * bucketMs(ttl));
    expect(Number(await redis.hget(RETENTIONS_KEY, String(ttl)))).toBeGreaterThan(Date.now());

    const [journey, ...others] = await store.read("default", id);
    expect(others).toEqual([]);
    expect(journey).toMatchObject({ source: "/s", accepted });
    // The later outcome of t1 replaced its earlier one.
    expect(journey!.routes).toHaveLength(2);
    expect(journey!.routes).toEqual(
      expect.arrayContaining([route("delivered"), route("filtered-out", "t2")]),
    );
  });

  it("keeps sources, namespaces and ids that begin alike apart", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const id = randomUUID();
    store.writeAccepted("default", id, "/a", accepted, ttl);
    store.writeAccepted("default", id, "/b", accepted, ttl);
    store.writeAccepted("default", `${id}\u0000x`, "/c", accepted, ttl);
    store.writeAccepted("default", `${id}x`, "/d", accepted, ttl);
    store.writeAccepted("other", id, "/e", accepted, ttl);
    const { key } = bucketOf(ttl, Date.now());
    await until(async () => (await redis.hlen(key)) === 4, "four fields");
    const found = await store.read("default", id);
    expect(found.map((j) => j.source).sort()).toEqual(["/a", "/b"]);
    expect((await store.read("default", `${id}\u0000x`)).map((j) => j.source)).toEqual(["/c"]);
    expect((await store.read("other", id)).map((j) => j.source)).toEqual(["/e"]);
  });

  it("opening a bucket unlinks the one whose retention passed; lookups skip older reports", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const size = bucketMs(ttl);
    const index = Math.floor(Date.now() / size);
    const behind = `eventail:journeys:${ttl}:${index - 2 - Math.ceil(ttl / size)}`;
    // Past its retention by our clock, but not by that of a process a little behind: kept.
    const slack = `eventail:journeys:${ttl}:${index - 1 - Math.ceil(ttl / size)}`;
    const kept = `eventail:journeys:${ttl}:${index - 1}`;
    await redis.hset(behind, "left", "behind");
    await redis.hset(slack, "left", "slack");
    const id = randomUUID();
    // A report stamped before the retention, in a bucket a lookup still asks.
    const { line } = journeyLine("/old", accepted, false, Date.now() - ttl - 1_000);
    await redis.hset(kept, journeyField("default", id), line);
    store.writeAccepted("default", id, "/new", accepted, ttl);
    await until(async () => (await redis.exists(behind)) === 0, "the old bucket unlinked");
    expect(await redis.exists(kept)).toBe(1);
    expect(await redis.exists(slack)).toBe(1);
    expect((await store.read("default", id)).map((j) => j.source)).toEqual(["/new"]);
    await redis.del(kept, slack);
  });

  it("lists a retention again with the next report after its entry was deleted", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const id = randomUUID();
    store.writeAccepted("default", id, "/s", accepted, ttl);
    await until(async () => (await redis.hexists(RETENTIONS_KEY, String(ttl))) === 1, "listed");
    await redis.hdel(RETENTIONS_KEY, String(ttl));
    store.writeRoute("default", id, "/s", route("delivered"), ttl);
    await until(async () => (await redis.hexists(RETENTIONS_KEY, String(ttl))) === 1, "again");
    const [journey] = await store.read("default", id);
    expect(journey).toMatchObject({ source: "/s", accepted, routes: [route("delivered")] });
  });

  it("drops retentions whose buckets all expired from the list, and reads the old layout", async () => {
    const gone = uniqueRetention();
    await redis.hset(RETENTIONS_KEY, String(gone), String(Date.now() - 1));
    const id = randomUUID();
    await redis.hset(
      journeyKey("default", id),
      "a\u0000/legacy",
      JSON.stringify(accepted),
      "r\u0000/legacy\u0000Trigger\u0000t1",
      JSON.stringify(route("delivered")),
    );
    await redis.pexpire(journeyKey("default", id), 60_000);
    const [journey, ...others] = await store.read("default", id);
    expect(others).toEqual([]);
    expect(journey).toMatchObject({ source: "/legacy", accepted, routes: [route("delivered")] });
    expect(await redis.hexists(RETENTIONS_KEY, String(gone))).toBe(0);
  });

  it("a route retried many times keeps one line per bucket, not one per report", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const id = randomUUID();
    store.writeAccepted("default", id, "/s", accepted, ttl);
    const attempts: { at: number; status: number; durationMs: number }[] = [];
    for (let n = 0; n < 30; n++) {
      attempts.push({ at: 1_000 + n, status: 500, durationMs: 1 });
      store.writeRoute("default", id, "/s", { ...route("pending"), attempts: [...attempts] }, ttl);
      // Each report in a turn of its own, as a retry's would be.
      await new Promise((resolve) => setImmediate(resolve));
    }
    store.writeRoute("default", id, "/s", { ...route("dead-lettered"), attempts }, ttl);
    const { key } = bucketOf(ttl, Date.now());
    const field = journeyField("default", id);
    await until(
      async () => ((await redis.hget(key, field)) ?? "").includes("dead-lettered"),
      "the last outcome stored",
    );
    const lines = ((await redis.hget(key, field)) ?? "").split("\n").filter(Boolean);
    expect(lines).toHaveLength(2);
    const [journey] = await store.read("default", id);
    expect(journey!.routes).toEqual([{ ...route("dead-lettered"), attempts }]);
  });

  it("a stale pending read after the outcome that ended it does not replace it", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const id = randomUUID();
    const field = journeyField("default", id);
    const size = bucketMs(ttl);
    const now = Date.now();
    // Another process's delivery (later attempt) in an earlier bucket, this one's earlier
    // failure in the current bucket, and the previous layout's pending: delivered wins.
    const delivered = {
      ...route("delivered"),
      attempts: [{ at: now - 10, status: 200, durationMs: 1 }],
    };
    const pending = {
      ...route("pending"),
      attempts: [{ at: now - 500, status: 503, durationMs: 1 }],
    };
    const earlier = `eventail:journeys:${ttl}:${Math.floor(now / size) - 1}`;
    const current = bucketOf(ttl, now).key;
    await redis.hset(earlier, field, journeyLine("/s", delivered, true, now - 10).line);
    await redis.hset(current, field, journeyLine("/s", pending, true, now).line);
    await redis.hset(
      journeyKey("default", id),
      "r\u0000/s\u0000Trigger\u0000t1",
      JSON.stringify(pending),
    );
    await redis.pexpire(journeyKey("default", id), 60_000);
    await redis.hset(RETENTIONS_KEY, String(ttl), String(now + 2 * ttl));
    const [journey] = await store.read("default", id);
    expect(journey!.routes).toEqual([delivered]);
    await redis.del(earlier, current, journeyKey("default", id));
  });

  it("in one bucket, a route's line is replaced only by a report that supersedes it", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const attempt = (at: number, status: number) => ({ at, status, durationMs: 1 });
    const cases = [
      // A redelivery's stale pending (an earlier attempt) written after the delivery.
      {
        first: { ...route("delivered", "stale"), attempts: [attempt(2_000, 200)] },
        later: { ...route("pending", "stale"), attempts: [attempt(1_000, 503)] },
        kept: "first",
      },
      // No attempts to compare: an outcome beats a later pending.
      { first: route("filtered-out", "bare"), later: route("pending", "bare"), kept: "first" },
      // A retry after the redelivery: its later attempt wins, though pending.
      {
        first: { ...route("delivered", "retried"), attempts: [attempt(1_000, 200)] },
        later: {
          ...route("pending", "retried"),
          attempts: [attempt(1_000, 200), attempt(3_000, 503)],
        },
        kept: "later",
      },
    ] as const;
    const expected = cases.map((c) => (c.kept === "first" ? c.first : c.later));
    // Each pair in two script calls (turns), and in one.
    const apart = randomUUID();
    const together = randomUUID();
    for (const c of cases) store.writeRoute("default", apart, "/s", c.first, ttl);
    await nextTurn();
    for (const c of cases) store.writeRoute("default", apart, "/s", c.later, ttl);
    for (const c of cases) {
      store.writeRoute("default", together, "/s", c.first, ttl);
      store.writeRoute("default", together, "/s", c.later, ttl);
    }
    await nextTurn();
    for (const id of [apart, together]) {
      const [journey] = await store.read("default", id);
      expect(journey!.routes).toHaveLength(3);
      expect(journey!.routes).toEqual(expect.arrayContaining(expected));
      const field = await redis.hget(bucketOf(ttl, Date.now()).key, journeyField("default", id));
      expect((field ?? "").split("\n").filter(Boolean)).toHaveLength(3);
    }
  });

  it("keeps in one bucket what routeSupersedes keeps, whatever the reports and turns", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    const report = fc.record({
      name: fc.constantFrom("a", "b", "c"),
      outcome: fc.constantFrom<RouteRecord["outcome"]>("pending", "delivered", "dead-lettered"),
      attempts: fc.array(fc.integer({ min: 0, max: 4_000_000_000_000 }), { maxLength: 3 }),
      turnEnds: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(report, { minLength: 1, maxLength: 12 }), async (reports) => {
        const id = randomUUID();
        const kept = new Map<string, RouteRecord>();
        for (const r of reports) {
          const written: RouteRecord = {
            ...route(r.outcome, r.name),
            ...(r.attempts.length > 0
              ? { attempts: r.attempts.map((at) => ({ at, status: 503, durationMs: 1 })) }
              : {}),
          };
          store.writeRoute("default", id, "/s", written, ttl);
          const present = kept.get(r.name);
          if (present === undefined || routeSupersedes(written, present)) kept.set(r.name, written);
          if (r.turnEnds) await nextTurn();
        }
        await nextTurn();
        const [journey] = await store.read("default", id);
        expect(journey!.routes).toHaveLength(kept.size);
        expect(journey!.routes).toEqual(expect.arrayContaining([...kept.values()]));
      }),
      { numRuns: 60 },
    );
  });

  it.skipIf(!canStartRedisEngine())(
    "a turn's reports of one event read and write its field once, however many",
    async () => {
      // A Redis of the test's own, so its command counts (INFO commandstats) are this test's
      // alone: other test files use the shared one at the same time.
      const engine = await startRedisEngine();
      const own = { redis: new Redis(engine.url) };
      try {
        const ownStore = new RedisJourneyStore(own.redis, silentLogger());
        await until(async () => own.redis.status === "ready", "own redis ready");
        const ttl = uniqueRetention();
        const id = randomUUID();
        const triggers = Array.from({ length: 200 }, (_, n) => `trigger-${n}`);
        await own.redis.config("RESETSTAT");
        // Every trigger of a broker reports the event, twice: pending, then its outcome.
        for (const name of triggers)
          ownStore.writeRoute("default", id, "/s", route("pending", name), ttl);
        await nextTurn();
        for (const [n, name] of triggers.entries()) {
          const outcome = n % 2 === 0 ? "delivered" : "filtered-out";
          ownStore.writeRoute("default", id, "/s", route(outcome, name), ttl);
        }
        await nextTurn();
        await own.redis.ping();
        const calls = await commandCalls(own.redis);
        // Per turn: one read of the field, and one write of it beside the retention's listing.
        expect((calls["hget"] ?? 0) + (calls["hmget"] ?? 0)).toBe(2);
        expect(calls["hset"]).toBe(4);
        const [journey] = await ownStore.read("default", id);
        expect(journey!.routes).toHaveLength(200);
        expect(journey!.routes).toEqual(
          expect.arrayContaining(
            triggers.map((name, n) => route(n % 2 === 0 ? "delivered" : "filtered-out", name)),
          ),
        );
      } finally {
        own.redis.disconnect();
        await engine.stop();
      }
    },
  );

  it("a lookup keeps a retention a writer listed again since it was found expired", async () => {
    const ttl = uniqueRetention();
    retentions.push(ttl);
    // Expired in the list, but renewed by a writer before the lookup's removal runs: the
    // removal compares again in Redis, so only a still-expired entry goes.
    await redis.hset(RETENTIONS_KEY, String(ttl), String(Date.now() - 1));
    const reading = store.read("default", randomUUID());
    await redis.hset(RETENTIONS_KEY, String(ttl), String(Date.now() + 60_000));
    await reading;
    expect(await redis.hexists(RETENTIONS_KEY, String(ttl))).toBe(1);
  });
});
