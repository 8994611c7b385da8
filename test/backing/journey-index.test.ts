import { describe, expect, it } from "vitest";
import type { RouteRecord } from "../../src/backing/journey.js";
import {
  JourneyIndex,
  type JourneyReport,
  routeSupersedes,
} from "../../src/backing/journey-index.js";

const accepted = { at: 1, stream: "broker.default.default", size: 2, type: "t" };
const route = (name: string, outcome: "pending" | "delivered") =>
  ({ kind: "Trigger", name, outcome }) as const;

function report(id: string, fields: Partial<JourneyReport>): JourneyReport {
  return { namespace: "ns", id, source: "/s", expiresAt: 1_000, ...fields };
}

describe("journey index", () => {
  it("keeps a source's acceptance and the latest outcome of each route", () => {
    const index = new JourneyIndex();
    index.add(report("e", { accepted }));
    index.add(report("e", { route: route("a", "pending") }));
    index.add(report("e", { route: route("a", "delivered") }));
    index.add(report("e", { route: route("b", "pending") }));
    index.add(report("e", { source: "/other", accepted }));
    index.add(report("e", { namespace: "elsewhere", accepted }));
    expect(index.read("ns", "e", 0)).toEqual([
      { source: "/s", accepted, routes: [route("a", "delivered"), route("b", "pending")] },
      { source: "/other", accepted, routes: [] },
    ]);
  });

  it("skips expired reports on read and drops them on sweep", () => {
    const index = new JourneyIndex();
    index.add(report("e", { accepted, expiresAt: 100 }));
    index.add(report("e", { route: route("a", "delivered"), expiresAt: 200 }));
    expect(index.read("ns", "e", 150)).toEqual([
      { source: "/s", routes: [route("a", "delivered")] },
    ]);
    index.sweep(150);
    expect(index.size).toBe(1);
    index.sweep(200);
    expect(index.size).toBe(0);
    expect(index.read("ns", "e", 0)).toEqual([]);
  });

  it("holds at most its bound of events, dropping the earliest indexed", () => {
    const index = new JourneyIndex(2);
    for (const id of ["1", "2", "3"]) index.add(report(id, { accepted }));
    expect(index.size).toBe(2);
    expect(index.read("ns", "1", 0)).toEqual([]);
    expect(index.read("ns", "3", 0)).toEqual([{ source: "/s", accepted, routes: [] }]);
  });

  it("a backfill fills only what the tail did not report, and its later reports replace its earlier", () => {
    const index = new JourneyIndex();
    // The tail read the newest reports first.
    index.add(report("e", { route: route("a", "delivered") }));
    // The backfill then reads the older part of the log, in log order.
    index.addOlder(report("e", { accepted }));
    index.addOlder(report("e", { route: route("a", "pending") }));
    index.addOlder(report("e", { route: route("b", "pending") }));
    index.addOlder(report("e", { route: route("b", "delivered") }));
    expect(index.read("ns", "e", 0)).toEqual([
      { source: "/s", accepted, routes: [route("a", "delivered"), route("b", "delivered")] },
    ]);
    // A newer tail report replaces a backfilled one, and no older backfill report replaces it.
    const first = {
      ...route("c", "delivered"),
      attempts: [{ at: 20, durationMs: 1, status: 200 }],
    };
    const retried = {
      ...route("c", "pending"),
      attempts: [{ at: 30, durationMs: 1, status: 503 }],
    };
    index.addOlder(report("e", { route: first }));
    index.add(report("e", { route: retried }));
    index.addOlder(report("e", { route: first }));
    expect(index.read("ns", "e", 0)[0]?.routes).toEqual([
      route("a", "delivered"),
      route("b", "delivered"),
      retried,
    ]);
  });

  it("a backfill never drops a tail event, and its events are dropped first", () => {
    const index = new JourneyIndex(3);
    index.add(report("new1", { accepted }));
    index.add(report("new2", { accepted }));
    index.addOlder(report("old1", { accepted }));
    index.addOlder(report("old2", { accepted }));
    // Full: old2 came in in place of old1, the older of the backfill's events.
    expect(index.size).toBe(3);
    expect(index.read("ns", "old1", 0)).toEqual([]);
    expect(index.read("ns", "old2", 0)).toHaveLength(1);
    index.add(report("new3", { accepted }));
    expect(index.read("ns", "old2", 0)).toEqual([]);
    // Only tail events left: a backfilled event does not come in at all.
    index.addOlder(report("old3", { accepted }));
    expect(index.read("ns", "old3", 0)).toEqual([]);
    for (const id of ["new1", "new2", "new3"]) expect(index.read("ns", id, 0)).toHaveLength(1);
    // A tail report of an indexed event adds no event.
    index.add(report("new1", { route: route("a", "pending") }));
    expect(index.size).toBe(3);
  });

  it("after demote, a backfill that reads further replaces what was indexed", () => {
    const index = new JourneyIndex();
    index.add(report("e", { route: route("a", "pending") }));
    index.demote();
    index.addOlder(report("e", { route: route("a", "delivered") }));
    expect(index.read("ns", "e", 0)[0]?.routes).toEqual([route("a", "delivered")]);
    index.sweep(1_000);
    expect(index.size).toBe(0);
  });

  it("a stale report of a route never replaces the one that ended it, in any read order", () => {
    const at = (...times: number[]) => times.map((t) => ({ at: t, status: 500, durationMs: 1 }));
    const t1 = (outcome: RouteRecord["outcome"], attempts?: number[]): RouteRecord => ({
      kind: "Trigger",
      name: "t1",
      outcome,
      ...(attempts ? { attempts: at(...attempts) } : {}),
    });
    // Another process's redelivery (later attempt) against this one's earlier failure.
    const pending = t1("pending", [10]);
    const delivered = t1("delivered", [20]);
    // Retries ran out: the outcome carries the same attempts as the last pending.
    const lastPending = t1("pending", [10, 20]);
    const deadLettered = t1("dead-lettered", [10, 20]);
    for (const [older, newer] of [
      [pending, delivered],
      [lastPending, deadLettered],
      [t1("pending"), t1("dropped")],
    ] as const) {
      expect(routeSupersedes(newer, older)).toBe(true);
      expect(routeSupersedes(older, newer)).toBe(false);
      for (const order of [
        [older, newer],
        [newer, older],
      ]) {
        const index = new JourneyIndex();
        for (const route of order) index.add(report("e", { route }));
        expect(index.read("ns", "e", 0)).toEqual([{ source: "/s", routes: [newer] }]);
        const backfilled = new JourneyIndex();
        backfilled.add(report("e", { route: order[0]! }));
        backfilled.addOlder(report("e", { route: order[1]! }));
        expect(backfilled.read("ns", "e", 0)).toEqual([{ source: "/s", routes: [newer] }]);
      }
    }
    // A later report in log order still replaces an equal one (a pending after a pending).
    expect(routeSupersedes(t1("pending", [10, 30]), t1("pending", [10, 30]))).toBe(true);
  });

  it("on a tie the backfill's report never replaces the tail's (a redrive after its dead letter)", () => {
    // Nothing tells these two apart: the one with no attempts has no time to compare.
    const redriven: RouteRecord = { kind: "Trigger", name: "t1", outcome: "delivered" };
    const deadLettered: RouteRecord = {
      kind: "Trigger",
      name: "t1",
      outcome: "dead-lettered",
      attempts: [{ at: 10, status: 500, durationMs: 1 }],
    };
    const index = new JourneyIndex();
    index.add(report("e", { route: redriven }));
    index.addOlder(report("e", { route: deadLettered }));
    expect(index.read("ns", "e", 0)).toEqual([{ source: "/s", routes: [redriven] }]);
    // Among backfill reports the later read still wins on a tie.
    const older = new JourneyIndex();
    older.addOlder(report("e", { route: deadLettered }));
    older.addOlder(report("e", { route: redriven }));
    expect(older.read("ns", "e", 0)).toEqual([{ source: "/s", routes: [redriven] }]);
  });
});
