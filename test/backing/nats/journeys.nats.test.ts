import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, nanos } from "nats";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { StoredJourney } from "../../../src/backing/journey.js";
import { JOURNEY_BUCKET_PREFIX, journeyBucket } from "../../../src/backing/nats/journey-store.js";
import { NatsBacking } from "../../../src/backing/nats/nats-backing.js";
import { parseNatsSettings } from "../../../src/backing/nats/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("nats");

// Retentions no other test or broker uses, so these buckets are this file's to delete.
const RETENTION_MS = 3_601_000 + Math.floor(Math.random() * 1000) * 1000;
const OTHER_RETENTION_MS = RETENTION_MS + 1000;

const backings: NatsBacking[] = [];
function backing(): NatsBacking {
  const made = new NatsBacking(
    parseNatsSettings({ kind: "nats", settings: { url: url! } }),
    silentLogger(),
  );
  backings.push(made);
  return made;
}

afterEach(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
});

afterAll(async () => {
  if (!url) return;
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  for (const ms of [RETENTION_MS, OTHER_RETENTION_MS]) {
    await jsm.streams.delete(`KV_${journeyBucket(ms)}`).catch(() => undefined);
  }
  await nc.close();
});

/** Reads until `check` holds (puts are fire-and-forget, so a read may come before the ack). */
async function readUntil(
  from: NatsBacking,
  namespace: string,
  id: string,
  check: (journeys: StoredJourney[]) => boolean,
): Promise<StoredJourney[]> {
  const deadline = Date.now() + 10_000;
  let seen: StoredJourney[] = [];
  while (Date.now() < deadline) {
    seen = await from.journeys.read(namespace, id);
    if (check(seen)) return seen;
    await sleep(50);
  }
  throw new Error(`journey of ${id} not as expected; saw ${JSON.stringify(seen)}`);
}

const accepted = { at: 1, stream: "broker.journeys.default", size: 2, type: "order.created" };
const delivered = {
  kind: "Trigger",
  name: "takes-all",
  outcome: "delivered",
  attempts: [{ at: 2, status: 202, durationMs: 3 }],
} as const;

describe.skipIf(!url)("journeys on NATS key-value buckets", () => {
  it("one process writes, another reads, and a restarted one still reads", async () => {
    const a = backing();
    const b = backing();
    // Characters a NATS subject cannot hold, in the id and the source.
    const id = `order 1.*>/ü-${randomUUID()}`;
    const source = "/orders east.*";
    await a.ready();
    a.journeys.writeAccepted("journeys", id, source, accepted, RETENTION_MS);
    // The route is reported by another process, as a trigger on another replica would.
    await b.ready();
    b.journeys.writeRoute("journeys", id, source, delivered, RETENTION_MS);
    const seen = await readUntil(b, "journeys", id, (j) => j[0]?.routes.length === 1);
    expect(seen).toEqual([{ source, accepted, routes: [delivered] }]);
    await a.close();
    await b.close();
    const c = backing();
    expect(await c.journeys.read("journeys", id)).toEqual([
      { source, accepted, routes: [delivered] },
    ]);
  });

  it("keeps the sources of one id apart, and finds journeys in buckets of other retentions", async () => {
    const a = backing();
    await a.ready();
    const id = randomUUID();
    a.journeys.writeAccepted("journeys", id, "/a", accepted, RETENTION_MS);
    a.journeys.writeAccepted("journeys", id, "/b", accepted, OTHER_RETENTION_MS);
    a.journeys.writeRoute("journeys", id, "/b", delivered, OTHER_RETENTION_MS);
    // Same id in another namespace: not part of this one's journey.
    a.journeys.writeAccepted("elsewhere", id, "/c", accepted, RETENTION_MS);
    const reader = backing();
    const seen = await readUntil(reader, "journeys", id, (j) =>
      j.some((s) => s.source === "/b" && s.routes.length === 1),
    );
    const bySource = Object.fromEntries(seen.map((s) => [s.source, s]));
    expect(Object.keys(bySource).sort()).toEqual(["/a", "/b"]);
    expect(bySource["/a"]).toEqual({ source: "/a", accepted, routes: [] });
    expect(bySource["/b"]).toEqual({ source: "/b", accepted, routes: [delivered] });
  });

  it("a bucket's max_age is the retention its journeys were written with", async () => {
    const a = backing();
    await a.ready();
    const id = randomUUID();
    a.journeys.writeAccepted("journeys", id, "/a", accepted, RETENTION_MS);
    await readUntil(a, "journeys", id, (j) => j.length === 1);
    const nc = await connect({ servers: url! });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(`KV_${journeyBucket(RETENTION_MS)}`);
      expect(info.config.max_age).toBe(nanos(RETENTION_MS));
      expect(info.config.max_msgs_per_subject).toBe(1);
      expect(journeyBucket(RETENTION_MS).startsWith(JOURNEY_BUCKET_PREFIX)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("answers nothing for an unknown id", async () => {
    const a = backing();
    await a.ready();
    expect(await a.journeys.read("journeys", randomUUID())).toEqual([]);
  });
});
