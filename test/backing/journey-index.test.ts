import { describe, expect, it } from "vitest";
import { JourneyIndex, type JourneyReport } from "../../src/backing/journey-index.js";

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
});
