import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, nanos } from "nats";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { StoredJourney } from "../../../src/backing/journey.js";
import { parseJourneyMessage } from "../../../src/backing/journey-wire.js";
import {
  JOURNEY_STREAM_PREFIX,
  journeyStream,
  journeySubject,
} from "../../../src/backing/nats/journey-store.js";
import { NatsBacking } from "../../../src/backing/nats/nats-backing.js";
import { parseNatsSettings } from "../../../src/backing/nats/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("nats");

// Retentions no other test or broker uses, so these streams are this file's to delete.
const RETENTION_MS = 3_601_000 + Math.floor(Math.random() * 1000) * 1000;
const OTHER_RETENTION_MS = RETENTION_MS + 1000;
const BATCH_RETENTION_MS = RETENTION_MS + 2000;

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
  for (const ms of [RETENTION_MS, OTHER_RETENTION_MS, BATCH_RETENTION_MS]) {
    await jsm.streams.delete(journeyStream(ms)).catch(() => undefined);
  }
  await nc.close();
});

/**
 * Reads until `check` holds (writes are fire-and-forget, so a read may come before they land).
 * A lookup of an event not yet found waits up to 10 s for backfills (of every journey stream on
 * the server, whatever else wrote to them), and a stream made after the readers listed streams
 * is read from the next lookup on: so it is asked again past one lookup's wait.
 */
async function readUntil(
  from: NatsBacking,
  namespace: string,
  id: string,
  check: (journeys: StoredJourney[]) => boolean,
): Promise<StoredJourney[]> {
  const deadline = Date.now() + 25_000;
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

// A readUntil may take 25 s, and a fresh process's lookup up to 10 s more.
describe.skipIf(!url)("journeys on NATS journey streams", { timeout: 60_000 }, () => {
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
    // A fresh process's first lookups wait (boundedly) for its readers to catch up, which on a
    // busy machine can take longer than one lookup's wait: it is asked again, as a user would.
    const c = backing();
    expect(await readUntil(c, "journeys", id, (j) => j[0]?.routes.length === 1)).toEqual([
      { source, accepted, routes: [delivered] },
    ]);
  });

  it("keeps the sources of one id apart, and finds journeys in streams of other retentions", async () => {
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

  it("a stream's max_age is the retention its journeys were written with", async () => {
    const a = backing();
    await a.ready();
    const id = randomUUID();
    a.journeys.writeAccepted("journeys", id, "/a", accepted, RETENTION_MS);
    await readUntil(a, "journeys", id, (j) => j.length === 1);
    const nc = await connect({ servers: url! });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(journeyStream(RETENTION_MS));
      expect(info.config.max_age).toBe(nanos(RETENTION_MS));
      expect(info.config.subjects).toEqual([journeySubject(RETENTION_MS)]);
      expect(journeyStream(RETENTION_MS).startsWith(JOURNEY_STREAM_PREFIX)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("sends the reports of one turn as one message, and another process reads them all", async () => {
    const a = backing();
    await a.ready();
    const ids = Array.from({ length: 50 }, () => randomUUID());
    for (const id of ids) {
      a.journeys.writeAccepted("journeys", id, "/batch", accepted, BATCH_RETENTION_MS);
      a.journeys.writeRoute("journeys", id, "/batch", delivered, BATCH_RETENTION_MS);
    }
    const reader = backing();
    await readUntil(reader, "journeys", ids.at(-1)!, (j) => j[0]?.routes.length === 1);
    for (const id of ids) {
      expect(await reader.journeys.read("journeys", id)).toEqual([
        { source: "/batch", accepted, routes: [delivered] },
      ]);
    }
    const nc = await connect({ servers: url! });
    try {
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(journeyStream(BATCH_RETENTION_MS));
      expect(info.state.messages).toBe(1);
    } finally {
      await nc.close();
    }
  });

  it("skips what is not a report in a journey message", () => {
    const report = ["ns", "id", "/s", 5, "a", accepted];
    expect(parseJourneyMessage("not json")).toEqual([]);
    expect(parseJourneyMessage('{"a":1}')).toEqual([]);
    expect(
      parseJourneyMessage(
        JSON.stringify([
          report,
          ["ns", "id", "/s", "5", "a", accepted],
          ["ns", "id", "/s", 5, "r", {}],
          7,
        ]),
      ),
    ).toEqual([{ namespace: "ns", id: "id", source: "/s", expiresAt: 5, accepted }]);
  });

  it("answers nothing for an unknown id", async () => {
    const a = backing();
    await a.ready();
    expect(await a.journeys.read("journeys", randomUUID())).toEqual([]);
  });
});
