import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

/**
 * Exact filters on a real broker whose memory backing indexes triggers by their pinned `type`: the
 * index hands a trigger only events of its type, so what a trigger receives beyond that is the
 * filter's own verdict on the other attributes. A value that is a strict prefix of an attribute
 * must not match, in `filter.attributes` and in the `exact` dialect alike.
 */
const TYPE = "com.example.order";

const TRIGGERS: Record<string, string> = {
  "attributes-source": `filter: {attributes: {type: ${TYPE}, source: /shop}}`,
  "attributes-region": `filter: {attributes: {type: ${TYPE}, region: eu}}`,
  "exact-source": `filters: [{exact: {type: ${TYPE}}}, {exact: {source: /shop}}]`,
  "exact-region": `filters: [{all: [{exact: {type: ${TYPE}}}, {exact: {region: eu}}]}]`,
  // The type index pins the type itself: a prefix of it reaches nothing either way.
  "attributes-type-prefix": "filter: {attributes: {type: com.example}}",
  "exact-type-prefix": "filters: [{exact: {type: com.example}}]",
};

const EVENTS: Array<[string, Record<string, string>, string[]]> = [
  [
    "whole-values",
    { type: TYPE, source: "/shop", region: "eu" },
    ["attributes-source", "attributes-region", "exact-source", "exact-region"],
  ],
  ["longer-values", { type: TYPE, source: "/shop/orders", region: "eu-west" }, []],
  [
    "longer-source-only",
    { type: TYPE, source: "/shopfront", region: "eu" },
    ["attributes-region", "exact-region"],
  ],
  ["other-type", { type: `${TYPE}.created`, source: "/shop", region: "eu" }, []],
];

describe("exact filters on a type-indexed broker compare whole values", () => {
  const sinks: Record<string, RecordingSink> = {};
  let running: Awaited<ReturnType<typeof startWithManifests>>;

  beforeAll(async () => {
    let yaml = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: default}\n";
    for (const [name, filter] of Object.entries(TRIGGERS)) {
      sinks[name] = await startSink();
      yaml += `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ${name}}
spec:
  broker: default
  ${filter}
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
    // Time for a wrong delivery to arrive after the right ones.
    await sleep(300);
  });

  afterAll(async () => {
    await running?.close();
    await Promise.all(Object.values(sinks).map((s) => s.close()));
  });

  it.each(EVENTS)("event %s reaches exactly its triggers", (id, _attributes, expected) => {
    const reached = Object.entries(sinks)
      .filter(([, sink]) => sink.events.some((e) => e.attributes["id"] === id))
      .map(([name]) => name)
      .sort();
    expect(reached).toEqual([...expected].sort());
  });
});
