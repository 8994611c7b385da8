import { describe, expect, it } from "vitest";
import { compileTriggerFilter } from "../../src/broker/trigger.js";
import { stampBrokerIngress } from "../../src/broker/ttl.js";
import { createEvent } from "../../src/events/event.js";
import { compileCesqlPredicate } from "../../src/triggers/cesql-filter.js";
import { compileFilter, type TriggerFilterSpec } from "../../src/triggers/filter.js";

/** An event as a trigger's consumer reads it from the broker's stream: TTL and arrival stamped. */
const stored = stampBrokerIngress(
  createEvent({ specversion: "1.0", id: "1", source: "/shop", type: "dev.example.order" }),
  "2026-01-01T00:00:00.000Z",
);

/**
 * Knative's broker deletes the TTL before it filters (pkg/broker/filter/filter_handler.go), so no
 * dialect can see it; Eventail's broker hides the name from its triggers' filters instead of
 * copying each event. Each case would match if the filter saw the TTL (the second table proves the
 * event carries it).
 */
const READS_THE_TTL: Array<[string, TriggerFilterSpec]> = [
  ["filter.attributes present-and-non-empty", { filter: { attributes: { knativebrokerttl: "" } } }],
  ["filter.attributes exact value", { filter: { attributes: { knativebrokerttl: "255" } } }],
  ["exact", { filters: [{ exact: { knativebrokerttl: "255" } }] }],
  [
    "exact beside a matching type",
    { filters: [{ exact: { type: "dev.example.order", knativebrokerttl: "255" } }] },
  ],
  ["prefix", { filters: [{ prefix: { knativebrokerttl: "2" } }] }],
  ["suffix", { filters: [{ suffix: { knativebrokerttl: "5" } }] }],
  ["cesql EXISTS", { filters: [{ cesql: "EXISTS knativebrokerttl" }] }],
  ["cesql equality", { filters: [{ cesql: "knativebrokerttl = 255" }] }],
  ["cesql inside any", { filters: [{ any: [{ cesql: "knativebrokerttl > 0" }] }] }],
];

describe("a broker's trigger filters do not see knativebrokerttl", () => {
  it.each(READS_THE_TTL)("%s does not match", (_name, spec) => {
    expect(compileTriggerFilter(spec).match(stored)).toBe(false);
  });

  it.each(READS_THE_TTL)("%s matches where the TTL is not hidden", (_name, spec) => {
    expect(compileFilter(spec, compileCesqlPredicate).match(stored)).toBe(true);
  });

  it.each<[string, TriggerFilterSpec]>([
    ["cesql NOT EXISTS", { filters: [{ cesql: "NOT EXISTS knativebrokerttl" }] }],
    ["not of an exact on the TTL", { filters: [{ not: { exact: { knativebrokerttl: "255" } } }] }],
    ["the arrival time stays visible", { filters: [{ cesql: "EXISTS knativearrivaltime" }] }],
    ["other attributes read as before", { filter: { attributes: { type: "dev.example.order" } } }],
  ])("%s matches", (_name, spec) => {
    expect(compileTriggerFilter(spec).match(stored)).toBe(true);
  });
});
