import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RoutedEvent, type RoutingRun, routeTable } from "./routing-table.js";

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

const EVENTS: RoutedEvent[] = [
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
  let run: RoutingRun;
  beforeAll(async () => {
    run = await routeTable(TRIGGERS, EVENTS);
  });
  afterAll(() => run?.close());

  it.each(EVENTS)("event %s reaches exactly its triggers", (id, _attributes, expected) => {
    expect(run.reached(id)).toEqual([...expected].sort());
  });
});
