import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AcceptedRecord, RouteRecord, StoredJourney } from "../../src/backing/journey.js";
import { JourneyRing } from "../../src/operations/journey-ring.js";

/** The ring as a plain list of slots: what the columns and the index must agree with. */
class Model {
  private readonly slots: (StoredJourney & { namespace: string; id: string })[] = [];
  private readonly live: boolean[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(namespace: string, id: string, source: string, accepted: AcceptedRecord): void {
    if (this.size <= 0) return;
    const older = this.find(namespace, id, source);
    if (older >= 0) this.live[older] = false;
    this.slots[this.next] = { namespace, id, source, accepted, routes: [] };
    this.live[this.next] = true;
    this.next = (this.next + 1) % this.size;
  }

  route(namespace: string, id: string, source: string, route: RouteRecord): boolean {
    const slot = this.find(namespace, id, source);
    if (slot < 0) return false;
    const routes = this.slots[slot]!.routes as RouteRecord[];
    const i = routes.findIndex((r) => r.kind === route.kind && r.name === route.name);
    if (i >= 0) routes[i] = route;
    else routes.push(route);
    return true;
  }

  remove(namespace: string, id: string, source: string): void {
    const slot = this.find(namespace, id, source);
    if (slot >= 0) this.live[slot] = false;
  }

  get(namespace: string, id: string): StoredJourney[] {
    return this.slots
      .filter((e, i) => this.live[i] && e.namespace === namespace && e.id === id)
      .map(({ source, accepted, routes }) => ({ source, accepted, routes }));
  }

  private find(namespace: string, id: string, source: string): number {
    return this.slots.findIndex(
      (e, i) => this.live[i] && e.namespace === namespace && e.id === id && e.source === source,
    );
  }
}

const key = {
  namespace: fc.constantFrom("one", "two"),
  id: fc.constantFrom("a", "b", "c"),
  source: fc.constantFrom("/x", "/y"),
};

const accepted: fc.Arbitrary<AcceptedRecord> = fc.record(
  {
    at: fc.integer({ min: 0, max: 4_000_000_000_000 }),
    stream: fc.constantFrom("broker.one.b", "channel.two.c"),
    size: fc.nat(1_000_000),
    type: fc.constantFrom("t1", "t2"),
    traceparent: fc.constantFrom("00-aa-bb-01", "00-cc-dd-00"),
  },
  { requiredKeys: ["at", "stream", "size", "type"] },
);

const millis = fc.integer({ min: 0, max: 10_000_000 }).map((n) => n / 1_000);
const attempt = fc.record(
  {
    at: fc.integer({ min: 0, max: 4_000_000_000_000 }),
    durationMs: millis,
    status: fc.constantFrom(200, 202, 404, 500, 503),
    error: fc.constantFrom("timeout", 'refused "quoted"\n'),
  },
  { requiredKeys: ["at", "durationMs"] },
);

const anyRoute: fc.Arbitrary<RouteRecord> = fc.record(
  {
    kind: fc.constantFrom("Trigger" as const, "Subscription" as const),
    name: fc.constantFrom("t", "u", "v/w"),
    outcome: fc.constantFrom(
      "filtered-out" as const,
      "pending" as const,
      "delivered" as const,
      "replied" as const,
      "dead-lettered" as const,
      "dropped" as const,
    ),
    attempts: fc.array(attempt, { maxLength: 3 }),
    replyId: fc.constantFrom("r1"),
    sink: fc.constantFrom("http://dls"),
    reason: fc.constantFrom("no route"),
  },
  { requiredKeys: ["kind", "name", "outcome"] },
);

/** What most deliveries report: no attempt, or one that was answered, and nothing else. */
const plainRoute: fc.Arbitrary<RouteRecord> = fc.record(
  {
    kind: fc.constantFrom("Trigger" as const, "Subscription" as const),
    name: fc.constantFrom("t", "u", "v/w"),
    outcome: fc.constantFrom("filtered-out" as const, "pending" as const, "delivered" as const),
    attempts: fc.array(
      fc.record({
        at: fc.integer({ min: 0, max: 4_000_000_000_000 }),
        durationMs: millis,
        status: fc.constantFrom(200, 500),
      }),
      { maxLength: 1 },
    ),
  },
  { requiredKeys: ["kind", "name", "outcome"] },
);

const route = fc.oneof(plainRoute, anyRoute);

const operation = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("add" as const), ...key, accepted }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant("route" as const), ...key, route }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("remove" as const), ...key }) },
);

const bySource = (journeys: StoredJourney[]) =>
  [...journeys].sort((x, y) => (x.source < y.source ? -1 : 1));

describe("the journey ring against a list of slots", () => {
  it("agrees over random adds, routes and withdrawals (eviction, slot reuse, several sources and routes)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(operation, { maxLength: 80 }),
        (size, ops) => {
          const ring = new JourneyRing(size);
          const model = new Model(size);
          for (const o of ops) {
            if (o.op === "add") {
              ring.add(o.namespace, o.id, o.source, o.accepted);
              model.add(o.namespace, o.id, o.source, o.accepted);
            } else if (o.op === "route") {
              expect(ring.route(o.namespace, o.id, o.source, o.route)).toBe(
                model.route(o.namespace, o.id, o.source, o.route),
              );
            } else {
              ring.remove(o.namespace, o.id, o.source);
              model.remove(o.namespace, o.id, o.source);
            }
            for (const namespace of ["one", "two"]) {
              for (const id of ["a", "b", "c"]) {
                // What a reader gets is JSON: compare as JSON (`undefined` fields vanish).
                expect(JSON.parse(JSON.stringify(bySource(ring.get(namespace, id))))).toEqual(
                  JSON.parse(JSON.stringify(bySource(model.get(namespace, id)))),
                );
              }
            }
          }
          expect(ring.length).toBe(Math.min(size, ops.filter((o) => o.op === "add").length));
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
