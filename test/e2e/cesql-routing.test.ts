import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

/**
 * Triggers with `cesql` filters on a real broker: each event of the table reaches exactly the
 * sinks whose expression is true for it (extensions, LIKE patterns, missing attributes).
 */
const TRIGGERS: Record<string, string> = {
  orders: "type = 'com.example.order' AND source LIKE '/shop/%' AND EXISTS region",
  eu: "region IN ('eu-west', 'eu-central') AND priority >= 2",
  subject: "subject LIKE 'invoice\\_%'",
  // A missing `missing` attribute is an evaluation error: no match, even with OR TRUE.
  broken: "missing = 'x' OR TRUE",
};

const EVENTS: Array<[string, Record<string, string>, string[]]> = [
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
  const sinks: Record<string, RecordingSink> = {};
  let running: Awaited<ReturnType<typeof startWithManifests>>;

  beforeAll(async () => {
    let yaml = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}\n";
    for (const [name, expression] of Object.entries(TRIGGERS)) {
      sinks[name] = await startSink();
      yaml += `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}}
spec:
  broker: default
  filters:
    - cesql: ${JSON.stringify(expression)}
  subscriber: {uri: "${sinks[name]!.url}"}
`;
    }
    running = await startWithManifests(yaml);
    for (const [id, attributes] of EVENTS) {
      const headers: Record<string, string> = { "ce-specversion": "1.0", "ce-id": id };
      for (const [name, value] of Object.entries(attributes)) headers[`ce-${name}`] = value;
      const response = await request(`${running.url}/default/default`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: "{}",
      });
      expect(response.statusCode).toBe(202);
      await response.body.dump();
    }
    const expected = EVENTS.reduce((n, [, , to]) => n + to.length, 0);
    const deadline = Date.now() + 10_000;
    const total = () => Object.values(sinks).reduce((n, s) => n + s.requests.length, 0);
    while (total() < expected && Date.now() < deadline) await sleep(20);
    await sleep(300);
  });

  afterAll(async () => {
    await running.close();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
  });

  it.each(EVENTS)("event %s reaches exactly its sinks", (id, _attributes, expected) => {
    const reached = Object.entries(sinks)
      .filter(([, sink]) => sink.events.some((e) => e.attributes["id"] === id))
      .map(([name]) => name)
      .sort();
    expect(reached).toEqual([...expected].sort());
  });

  it("delivers each matching event once", () => {
    for (const sink of Object.values(sinks)) {
      const ids = sink.events.map((e) => e.attributes["id"]);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });
});
