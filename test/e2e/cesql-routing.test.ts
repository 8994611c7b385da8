import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RoutedEvent, type RoutingRun, routeTable } from "./routing-table.js";

/**
 * Triggers with `cesql` filters on a real broker: each event of the table reaches exactly the
 * sinks whose expression is true for it (extensions, LIKE patterns, missing attributes).
 */
const EXPRESSIONS: Record<string, string> = {
  orders: "type = 'com.example.order' AND source LIKE '/shop/%' AND EXISTS region",
  eu: "region IN ('eu-west', 'eu-central') AND priority >= 2",
  subject: "subject LIKE 'invoice\\_%'",
  // A missing `missing` attribute is an evaluation error: no match, even with OR TRUE.
  broken: "missing = 'x' OR TRUE",
};

const EVENTS: RoutedEvent[] = [
  [
    "o1",
    { type: "com.example.order", source: "/shop/eu", region: "eu-west", priority: "3" },
    ["orders", "eu"],
  ],
  [
    "o2",
    { type: "com.example.order", source: "/shop/us", region: "us-east", priority: "9" },
    ["orders"],
  ],
  ["o3", { type: "com.example.order", source: "/shop/eu" }, []],
  [
    "o4",
    { type: "com.example.order", source: "/warehouse", region: "eu-central", priority: "2" },
    ["eu"],
  ],
  ["o5", { type: "com.example.refund", source: "/shop/eu", region: "eu-west", priority: "1" }, []],
  ["i1", { type: "com.example.invoice", source: "/billing", subject: "invoice_42" }, ["subject"]],
  ["i2", { type: "com.example.invoice", source: "/billing", subject: "invoiceX42" }, []],
];

describe("cesql trigger filters route events on a real broker", () => {
  let run: RoutingRun;
  beforeAll(async () => {
    const filters = Object.fromEntries(
      Object.entries(EXPRESSIONS).map(([name, cesql]) => [
        name,
        `filters:\n    - cesql: ${JSON.stringify(cesql)}`,
      ]),
    );
    run = await routeTable(filters, EVENTS);
  });
  afterAll(() => run?.close());

  it.each(EVENTS)("event %s reaches exactly its sinks", (id, _attributes, expected) => {
    expect(run.reached(id)).toEqual([...expected].sort());
  });

  it("delivers each matching event once", () => {
    expect(run.deliveredOnce()).toBe(true);
  });
});
