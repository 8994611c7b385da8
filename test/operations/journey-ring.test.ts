import { describe, expect, it } from "vitest";
import type { AcceptedRecord } from "../../src/backing/journey.js";
import { JourneyRing } from "../../src/operations/journey-ring.js";

const accepted = (at: number): AcceptedRecord => ({
  at,
  stream: "broker.default.b",
  size: 2,
  type: "t",
});

describe("the journey ring", () => {
  it("keeps only the last `size` events: the oldest is pushed out", () => {
    const ring = new JourneyRing(3);
    for (let i = 1; i <= 5; i++) ring.add("default", `e${i}`, "/s", accepted(i));
    expect(ring.length).toBe(3);
    expect(ring.get("default", "e1")).toEqual([]);
    expect(ring.get("default", "e2")).toEqual([]);
    expect(ring.get("default", "e3").map((j) => j.accepted?.at)).toEqual([3]);
    expect(ring.get("default", "e5").map((j) => j.accepted?.at)).toEqual([5]);
  });

  it("drops a route reported for an event already pushed out", () => {
    const ring = new JourneyRing(1);
    ring.add("default", "old", "/s", accepted(1));
    ring.add("default", "new", "/s", accepted(2));
    expect(
      ring.route("default", "old", "/s", { kind: "Trigger", name: "t", outcome: "delivered" }),
    ).toBe(false);
    expect(
      ring.route("default", "new", "/s", { kind: "Trigger", name: "t", outcome: "delivered" }),
    ).toBe(true);
  });

  it("keeps one route per trigger: a later report (pending → delivered) replaces the earlier", () => {
    const ring = new JourneyRing(10);
    ring.add("default", "e", "/s", accepted(1));
    ring.route("default", "e", "/s", { kind: "Trigger", name: "t", outcome: "pending" });
    ring.route("default", "e", "/s", { kind: "Trigger", name: "u", outcome: "filtered-out" });
    ring.route("default", "e", "/s", { kind: "Trigger", name: "t", outcome: "delivered" });
    const [journey] = ring.get("default", "e");
    expect(journey?.routes.map((r) => `${r.name}:${r.outcome}`)).toEqual([
      "t:delivered",
      "u:filtered-out",
    ]);
  });

  it("replaces a lone route in place and keeps what it is given", () => {
    const ring = new JourneyRing(10);
    ring.add("default", "e", "/s", accepted(1));
    ring.route("default", "e", "/s", { kind: "Trigger", name: "t", outcome: "pending" });
    ring.route("default", "e", "/s", { kind: "Subscription", name: "t", outcome: "delivered" });
    ring.route("default", "e", "/s", { kind: "Trigger", name: "t", outcome: "dead-lettered" });
    expect(ring.get("default", "e")[0]?.routes).toEqual([
      { kind: "Trigger", name: "t", outcome: "dead-lettered" },
      { kind: "Subscription", name: "t", outcome: "delivered" },
    ]);
    ring.add("default", "f", "/s", accepted(2));
    ring.route("default", "f", "/s", { kind: "Trigger", name: "t", outcome: "pending" });
    ring.route("default", "f", "/s", { kind: "Trigger", name: "t", outcome: "delivered" });
    expect(ring.get("default", "f")).toEqual([
      {
        source: "/s",
        accepted: accepted(2),
        routes: [{ kind: "Trigger", name: "t", outcome: "delivered" }],
      },
    ]);
  });

  it("holds one id seen with several sources apart, and evicts each on its own", () => {
    const ring = new JourneyRing(2);
    ring.add("default", "same", "/a", accepted(1));
    ring.add("default", "same", "/b", accepted(2));
    expect(
      ring
        .get("default", "same")
        .map((j) => j.source)
        .sort(),
    ).toEqual(["/a", "/b"]);
    ring.add("default", "other", "/a", accepted(3));
    expect(ring.get("default", "same").map((j) => j.source)).toEqual(["/b"]);
  });

  it("separates namespaces", () => {
    const ring = new JourneyRing(10);
    ring.add("one", "e", "/s", accepted(1));
    expect(ring.get("two", "e")).toEqual([]);
  });

  it("records nothing at size 0", () => {
    const ring = new JourneyRing(0);
    ring.add("default", "e", "/s", accepted(1));
    expect(ring.get("default", "e")).toEqual([]);
  });

  it("forgets a withdrawn event", () => {
    const ring = new JourneyRing(4);
    ring.add("default", "e", "/s", accepted(1));
    ring.remove("default", "e", "/s");
    expect(ring.get("default", "e")).toEqual([]);
    for (let i = 0; i < 6; i++) ring.add("default", `x${i}`, "/s", accepted(i));
    expect(ring.length).toBe(4);
  });

  it("holds index entries only for the events it holds, after many evictions and withdrawals", () => {
    const size = 50;
    const ring = new JourneyRing(size);
    // Short-lived namespaces, ids repeated with other sources and with the same one, withdrawals.
    for (let i = 0; i < 10_000; i++) {
      const namespace = `ns-${Math.floor(i / 100)}`;
      const id = `e${i % 70}`;
      ring.add(namespace, id, `/s${i % 3}`, accepted(i));
      ring.route(namespace, id, `/s${i % 3}`, { kind: "Trigger", name: "t", outcome: "delivered" });
      if (i % 7 === 0) ring.remove(namespace, id, `/s${i % 3}`);
    }
    const { namespaces, ids } = ring.indexed;
    expect(ids).toBeLessThanOrEqual(size);
    // The last 50 events span the last one or two namespaces of the 100 seen.
    expect(namespaces).toBeLessThanOrEqual(2);
    let held = 0;
    for (let i = 9_950; i < 10_000; i++) {
      held += ring.get(`ns-${Math.floor(i / 100)}`, `e${i % 70}`).length;
    }
    expect(held).toBeGreaterThan(0);
  });
});
