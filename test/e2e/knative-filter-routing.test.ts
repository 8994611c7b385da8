import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RoutedEvent, type RoutingRun, routeTable } from "./routing-table.js";

/**
 * Knative's filter rules on a real broker whose memory backing indexes triggers by pinned type:
 * exact over several attributes, LookupAttribute's aliases (schemaurl/dataschema across
 * specversions, datamediatype), time compared as a timestamp, a TTL no filter can see, and the
 * elements Knative's code turns into "match everything".
 */
const ORDER = "com.example.order";
const CLOCK = "com.example.clock";
const SCHEMA = "https://schema.example/v1";

const TRIGGERS: Record<string, string> = {
  "exact-multi": `filters: [{exact: {type: ${ORDER}, source: /shop, region: eu}}]`,
  "exact-schemaurl": `filters: [{exact: {type: ${ORDER}, schemaurl: "${SCHEMA}"}}]`,
  "attributes-dataschema": `filter: {attributes: {type: ${ORDER}, dataschema: "${SCHEMA}"}}`,
  "exact-mediatype": "filters: [{exact: {datamediatype: text/plain}}]",
  "exact-time": 'filters: [{exact: {time: "2018-04-05T17:31:00.78Z"}}]',
  "cesql-time": `filters: [{cesql: "time = '2018-04-05T17:31:00.78Z'"}]`,
  "ttl-exact": 'filters: [{exact: {knativebrokerttl: "8"}}]',
  "ttl-attributes": 'filter: {attributes: {knativebrokerttl: ""}}',
  "ttl-cesql-exists": 'filters: [{cesql: "EXISTS knativebrokerttl"}]',
  "ttl-cesql-equals": 'filters: [{cesql: "knativebrokerttl = 8"}]',
  "ttl-not-exists": `filters: [{cesql: "NOT EXISTS knativebrokerttl AND type = 'com.example.ttl'"}]`,
  // Each element materializes to nothing in Knative's code, so together they match everything.
  "match-all-shapes": 'filters: [{}, {not: {}}, {all: []}, {any: []}, {cesql: ""}]',
  // An empty value makes Knative skip the whole exact: it must not pin (and index) the type.
  "exact-empty-value": `filters: [{exact: {type: ${ORDER}, source: ""}}]`,
};

const EVERYWHERE = ["match-all-shapes", "exact-empty-value"];

const EVENTS: RoutedEvent[] = [
  [
    "order-v1",
    { type: ORDER, source: "/shop", region: "eu", dataschema: SCHEMA },
    ["exact-multi", "exact-schemaurl", "attributes-dataschema", ...EVERYWHERE],
  ],
  [
    "order-v03",
    { specversion: "0.3", type: ORDER, source: "/shop", region: "eu", schemaurl: SCHEMA },
    ["exact-multi", "exact-schemaurl", "attributes-dataschema", ...EVERYWHERE],
  ],
  ["order-other-region", { type: ORDER, source: "/shop", region: "eu-west" }, EVERYWHERE],
  [
    "invoice-text",
    { type: "com.example.invoice", source: "/shop", datacontenttype: "text/plain; charset=utf-8" },
    ["exact-mediatype", ...EVERYWHERE],
  ],
  [
    "clock-utc",
    { type: CLOCK, source: "/clock", time: "2018-04-05T17:31:00.780Z" },
    ["exact-time", "cesql-time", ...EVERYWHERE],
  ],
  [
    "clock-offset",
    { type: CLOCK, source: "/clock", time: "2018-04-05T18:31:00.78+01:00" },
    ["exact-time", "cesql-time", ...EVERYWHERE],
  ],
  ["clock-later", { type: CLOCK, source: "/clock", time: "2018-04-05T17:31:00.781Z" }, EVERYWHERE],
  [
    "ttl-from-producer",
    { type: "com.example.ttl", source: "/loop", knativebrokerttl: "9" },
    ["ttl-not-exists", ...EVERYWHERE],
  ],
];

describe("Knative's filter rules route events on a type-indexed broker", () => {
  let run: RoutingRun;
  beforeAll(async () => {
    run = await routeTable(TRIGGERS, EVENTS);
  });
  afterAll(() => run?.close());

  it.each(EVENTS)("event %s reaches exactly its triggers", (id, _attributes, expected) => {
    expect(run.reached(id)).toEqual([...expected].sort());
  });

  it("delivers each matching event once", () => {
    expect(run.deliveredOnce()).toBe(true);
  });
});
