import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import type { KafkaBacking } from "../../../src/backing/kafka/index.js";
import { journeyTopic } from "../../../src/backing/kafka/journey-store.js";
import { serviceUrl } from "../../support/services.js";
import { kafkaBacking } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");

const backings: KafkaBacking[] = [];
afterEach(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
});

/** A backing on a journey topic of its own test (`<prefix>.journeys`). */
async function backing(prefix: string): Promise<KafkaBacking> {
  const made = (await kafkaBacking(brokers!, { "name.prefix": prefix })) as KafkaBacking;
  backings.push(made);
  return made;
}

const accepted = { at: 1, stream: "broker.journeys.default", size: 2, type: "order.created" };
const pending = { kind: "Trigger", name: "takes-all", outcome: "pending" } as const;
const delivered = {
  kind: "Trigger",
  name: "takes-all",
  outcome: "delivered",
  attempts: [{ at: 2, status: 202, durationMs: 3 }],
} as const;
const HOUR = 3_600_000;

describe.skipIf(!brokers)("journeys on a Kafka topic", () => {
  it("one process writes, another reads at once, and a restarted one still reads", async () => {
    const prefix = `journeystest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const b = await backing(prefix);
    const id = `order/1 ${randomUUID()}`;
    a.journeys.writeAccepted("journeys", id, "/orders", accepted, HOUR);
    b.journeys.writeRoute("journeys", id, "/orders", pending, HOUR);
    // A later outcome of the same route replaces the earlier one.
    b.journeys.writeRoute("journeys", id, "/orders", delivered, HOUR);
    await a.journeys.close();
    await b.journeys.close();
    // A reader that never wrote: its first lookup waits until it has read up to the topic's end.
    const c = await backing(prefix);
    expect(await c.journeys.read("journeys", id)).toEqual([
      { source: "/orders", accepted, routes: [delivered] },
    ]);
    // A report written after the reader started is found by the next lookup, without polling.
    const d = await backing(prefix);
    d.journeys.writeRoute("journeys", id, "/orders", { ...pending, name: "second" }, HOUR);
    await d.journeys.close();
    const routes = (await c.journeys.read("journeys", id))[0]?.routes.map((r) => r.name);
    expect(routes?.sort()).toEqual(["second", "takes-all"]);
  });

  it("keeps the sources of one id apart and skips reports past their retention", async () => {
    const prefix = `journeystest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const id = randomUUID();
    a.journeys.writeAccepted("journeys", id, "/a", accepted, HOUR);
    a.journeys.writeAccepted("journeys", id, "/b", accepted, HOUR);
    a.journeys.writeRoute("journeys", id, "/b", delivered, HOUR);
    // Expired the moment it was written: on the topic, but never answered.
    a.journeys.writeAccepted("journeys", id, "/gone", accepted, 1);
    a.journeys.writeAccepted("elsewhere", id, "/c", accepted, HOUR);
    await a.journeys.close();
    const reader = await backing(prefix);
    const seen = await reader.journeys.read("journeys", id);
    const bySource = Object.fromEntries(seen.map((s) => [s.source, s]));
    expect(Object.keys(bySource).sort()).toEqual(["/a", "/b"]);
    expect(bySource["/a"]).toEqual({ source: "/a", accepted, routes: [] });
    expect(bySource["/b"]).toEqual({ source: "/b", accepted, routes: [delivered] });
  });

  it("reports of a busy stretch go as one record per send gap, not one per turn", async () => {
    const prefix = `journeystest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const id = randomUUID();
    const startedAt = Date.now();
    // 100 turns a millisecond or more apart: one send per turn would be ~100 records.
    for (let turn = 0; turn < 100; turn++) {
      a.journeys.writeRoute("journeys", id, "/orders", { ...pending, name: `t${turn}` }, HOUR);
      await sleep(1);
    }
    const elapsed = Date.now() - startedAt;
    await a.journeys.close();
    const admin = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(journeyTopic(prefix));
      const records = offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
      // The first report goes at once, then at most one send per 25 ms gap, plus close's flush.
      expect(records).toBeGreaterThan(0);
      expect(records).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 25));
    } finally {
      await admin.disconnect();
    }
    const reader = await backing(prefix);
    const [journey] = await reader.journeys.read("journeys", id);
    expect(journey?.routes).toHaveLength(100);
  });

  it("close sends the reports written while a send was in flight", async () => {
    const prefix = `journeystest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const id = randomUUID();
    a.journeys.writeAccepted("journeys", id, "/orders", accepted, HOUR);
    // The acceptance's send is on its way; this one waits for it, then for the gap.
    await new Promise((resolve) => setImmediate(resolve));
    a.journeys.writeRoute("journeys", id, "/orders", delivered, HOUR);
    await a.journeys.close();
    const reader = await backing(prefix);
    expect(await reader.journeys.read("journeys", id)).toEqual([
      { source: "/orders", accepted, routes: [delivered] },
    ]);
  });

  it("answers nothing for an unknown id", async () => {
    const a = await backing(`journeystest-${randomUUID().slice(0, 8)}`);
    expect(await a.journeys.read("journeys", randomUUID())).toEqual([]);
  });
});
