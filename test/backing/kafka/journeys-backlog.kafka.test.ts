import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Message } from "kafkajs";
import { afterAll, describe, expect, it } from "vitest";
import type { StoredJourney } from "../../../src/backing/journey.js";
import type { KafkaBacking } from "../../../src/backing/kafka/index.js";
import { journeyTopic } from "../../../src/backing/kafka/journey-store.js";
import { accepted, delivered } from "../../support/journey-records.js";
import { serviceUrl } from "../../support/services.js";
import { kafkaBacking } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");

/**
 * The backlog, written straight to the topic as the store writes reports: a record per turn (a
 * JSON array of reports), and in the oldest part one record per report as an earlier version
 * wrote them (a JSON object each). The mock answers a fetch with one record batch per partition
 * and keeps at most 5 MB per partition, so what makes a topic slow to read there is its number of
 * batches: the older part is many small writes (a quiet period, one report per write and
 * partition), the recent part a burst of large writes of records of several reports.
 */
const QUIET_WRITES = Number(process.env["KJ_QUIET"] ?? 6_000);
/** Writes in flight at once (each its own produce request, so its own record batches). */
const CONCURRENT_WRITES = 16;
const BURST_WRITES = 3;
const BURST_PER_PARTITION = 1_000;
/** Reports per record in the burst (a busy process's turn). */
const BURST_REPORTS = 4;
const HOUR = 3_600_000;

const backings: KafkaBacking[] = [];
async function backing(prefix: string): Promise<KafkaBacking> {
  const made = (await kafkaBacking(brokers!, { "name.prefix": prefix })) as KafkaBacking;
  backings.push(made);
  return made;
}

afterAll(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
});

describe.skipIf(!brokers)("journeys on a Kafka topic holding a large backlog", () => {
  it("a fresh process finds an event accepted a moment ago at once, and an old one after backfill", async () => {
    // A prefix of its own: the topic and its backlog are this test's alone.
    const prefix = `journeybacklog-${randomUUID().slice(0, 8)}`;
    const topic = journeyTopic(prefix);
    const kafka = new Kafka({
      clientId: "journeys-backlog-test",
      brokers: brokers!.split(","),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: true });
    const admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    try {
      const expiresAt = Date.now() + HOUR;
      let written = 0;
      let records = 0;
      let legacy = true;
      const record = (partition: number, reports = 1): Message => {
        records++;
        const routes = Array.from({ length: reports }, () => {
          const n = written++;
          return [`event-${n}`, { ...delivered, name: `trigger-${n % 10}` }] as const;
        });
        if (legacy) {
          const [[id, route]] = routes as [(typeof routes)[number]];
          return {
            partition,
            key: JSON.stringify(["backlog", id, "/bench/source", "r", route.kind, route.name]),
            value: JSON.stringify({
              namespace: "backlog",
              id,
              source: "/bench/source",
              expiresAt,
              route,
            }),
          };
        }
        return {
          partition,
          key: `backlog.${records}`,
          value: JSON.stringify(
            routes.map(([id, route]) => ["backlog", id, "/bench/source", expiresAt, "r", route]),
          ),
        };
      };
      // The first write makes the topic (auto-created, with the mock's partitions).
      await producer.send({ topic, messages: [record(0)], acks: 1 });
      const partitions = (await admin.fetchTopicOffsets(topic)).map((end) => end.partition);
      const backlog = async (
        writes: number,
        perPartition: number,
        concurrent: number,
        reports = 1,
      ) => {
        for (let done = 0; done < writes; done += concurrent) {
          await Promise.all(
            Array.from({ length: Math.min(concurrent, writes - done) }, () =>
              producer.send({
                topic,
                messages: partitions.flatMap((partition) =>
                  Array.from({ length: perPartition }, () => record(partition, reports)),
                ),
                acks: 1,
              }),
            ),
          );
        }
      };
      // The old event sits amid the quiet part, written by a process that is gone, after the
      // records of an earlier version (a rolling upgrade).
      await backlog(QUIET_WRITES / 2, 1, CONCURRENT_WRITES);
      legacy = false;
      const oldId = `old-${randomUUID()}`;
      const a = await backing(prefix);
      a.journeys.writeAccepted("journeys", oldId, "/old", accepted, HOUR);
      a.journeys.writeRoute("journeys", oldId, "/old", delivered, HOUR);
      await a.journeys.close();
      await backlog(QUIET_WRITES / 2, 1, CONCURRENT_WRITES);
      await backlog(BURST_WRITES, BURST_PER_PARTITION, 1, BURST_REPORTS);
      const newId = `new-${randomUUID()}`;
      const b = await backing(prefix);
      b.journeys.writeAccepted("journeys", newId, "/new", accepted, HOUR);
      await b.journeys.close();
      const ends = await admin.fetchTopicOffsets(topic);
      // Nothing of the backlog was dropped (the mock's 5 MB per partition) or lost.
      expect(ends.every((end) => end.low === "0")).toBe(true);
      // One record for a's turn of two reports, one for b's.
      expect(ends.reduce((sum, end) => sum + Number(end.high), 0)).toBe(records + 2);

      // One lookup, on a process that has read nothing yet: it answers once it has read up to
      // where the topic stood, which must not depend on the backlog before.
      const reader = await backing(prefix);
      expect(await reader.journeys.read("journeys", newId)).toEqual([
        { source: "/new", accepted, routes: [] },
      ]);

      // The old event is read by the backfill; lookups until then may answer nothing.
      const deadline = Date.now() + 120_000;
      let seen: StoredJourney[] = [];
      while (Date.now() < deadline) {
        seen = await reader.journeys.read("journeys", oldId);
        if (seen.length > 0) break;
      }
      expect(seen).toEqual([{ source: "/old", accepted, routes: [delivered] }]);
      // The backfill read from the topic's first record (as an earlier version wrote it).
      expect(await reader.journeys.read("backlog", "event-7")).toEqual([
        { source: "/bench/source", routes: [{ ...delivered, name: "trigger-7" }] },
      ]);
      // And a record of several reports from the burst.
      const last = `event-${written - 2}`;
      expect(await reader.journeys.read("backlog", last)).toEqual([
        {
          source: "/bench/source",
          routes: [{ ...delivered, name: `trigger-${(written - 2) % 10}` }],
        },
      ]);
    } finally {
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    }
  }, 240_000);
});
