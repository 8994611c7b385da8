import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "nats";
import { afterAll, describe, expect, it } from "vitest";
import type { StoredJourney } from "../../../src/backing/journey.js";
import { journeyStream, journeySubject } from "../../../src/backing/nats/journey-store.js";
import { NatsBacking } from "../../../src/backing/nats/nats-backing.js";
import { parseNatsSettings } from "../../../src/backing/nats/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { accepted, delivered } from "../../support/journey-records.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("nats");

// A retention no other test or broker uses, so this stream (and its backlog) is this file's.
const RETENTION_MS = 7_201_000 + Math.floor(Math.random() * 1000) * 1000;
/** About as much as a long bench left in a 24 h stream (142 MB), written straight to the stream. */
const BACKLOG_MESSAGES = 480;
const REPORTS_PER_MESSAGE = 1_000;

const backings: NatsBacking[] = [];
function backing(): NatsBacking {
  const made = new NatsBacking(
    parseNatsSettings({ kind: "nats", settings: { url: url! } }),
    silentLogger(),
  );
  backings.push(made);
  return made;
}

afterAll(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
  if (!url) return;
  const nc = await connect({ servers: url });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(journeyStream(RETENTION_MS)).catch(() => undefined);
  await nc.close();
});

async function lastSeq(nc: NatsConnection): Promise<number> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(journeyStream(RETENTION_MS)).catch(() => undefined);
  return info?.state.last_seq ?? 0;
}

/** Waits until the stream holds more than `seq` (the store's writes are not awaited). */
async function landed(nc: NatsConnection, seq: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await lastSeq(nc)) <= seq) {
    if (Date.now() > deadline) throw new Error("the report never reached the stream");
    await sleep(20);
  }
}

describe.skipIf(!url)("journeys on a NATS stream holding a large backlog", () => {
  it("a fresh process finds an event accepted a moment ago at once, and an old one after backfill", async () => {
    const nc = await connect({ servers: url! });
    try {
      const writer = backing();
      await writer.ready();
      // The backlog: messages of valid reports (one per turn, as the store writes them).
      const expiresAt = Date.now() + RETENTION_MS;
      const reports = Array.from({ length: REPORTS_PER_MESSAGE }, (_, i) => [
        "backlog",
        `event-${i}-${"x".repeat(36)}`,
        "/bench/source",
        expiresAt,
        "r",
        { ...delivered, name: `trigger-${i % 10}` },
      ]);
      const payload = new TextEncoder().encode(JSON.stringify(reports));
      const js = nc.jetstream();
      const backlog = async (count: number) => {
        for (let i = 0; i < count; i += 16) {
          await Promise.all(
            Array.from({ length: Math.min(16, count - i) }, () =>
              js.publish(journeySubject(RETENTION_MS), payload),
            ),
          );
        }
      };
      // The writer makes the stream; the old event sits amid the backlog.
      writer.journeys.writeAccepted("journeys", "first", "/first", accepted, RETENTION_MS);
      await landed(nc, 0);
      await backlog(BACKLOG_MESSAGES / 2);
      const oldId = `old-${randomUUID()}`;
      const amid = await lastSeq(nc);
      writer.journeys.writeAccepted("journeys", oldId, "/old", accepted, RETENTION_MS);
      writer.journeys.writeRoute("journeys", oldId, "/old", delivered, RETENTION_MS);
      await landed(nc, amid);
      await backlog(BACKLOG_MESSAGES / 2);
      const jsm = await nc.jetstreamManager();
      const info = await jsm.streams.info(journeyStream(RETENTION_MS));
      expect(info.state.bytes).toBeGreaterThan(80_000_000);

      const before = await lastSeq(nc);
      const newId = `new-${randomUUID()}`;
      writer.journeys.writeAccepted("journeys", newId, "/new", accepted, RETENTION_MS);
      await landed(nc, before);

      // One lookup, on a process that has read nothing yet: it answers once it has read up to
      // where the stream stood, which must not depend on the backlog before.
      const reader = backing();
      expect(await reader.journeys.read("journeys", newId)).toEqual([
        { source: "/new", accepted, routes: [] },
      ]);

      // The old event is read by the backfill; lookups until then may answer nothing.
      const deadline = Date.now() + 60_000;
      let seen: StoredJourney[] = [];
      while (Date.now() < deadline) {
        seen = await reader.journeys.read("journeys", oldId);
        if (seen.length > 0) break;
      }
      expect(seen).toEqual([{ source: "/old", accepted, routes: [delivered] }]);
      expect(await reader.journeys.read("backlog", "event-7-".padEnd(44, "x"))).toEqual([
        { source: "/bench/source", routes: [{ ...delivered, name: "trigger-7" }] },
      ]);
    } finally {
      await nc.close();
    }
  }, 120_000);
});
