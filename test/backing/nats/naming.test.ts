import { describe, expect, it } from "vitest";
import {
  consumerFilter,
  durableName,
  eventSubject,
  jetStreamName,
  jetStreamSubjects,
} from "../../../src/backing/nats/naming.js";

describe("NATS naming", () => {
  it.each([
    [
      "a broker stream",
      "broker.default.default",
      "EVENTAIL_broker_default_default",
      "eventail.broker_default_default.*",
    ],
    [
      "a channel stream with dashes",
      "channel.team-a.orders-v2",
      "EVENTAIL_channel_team-a_orders-v2",
      "eventail.channel_team-a_orders-v2.*",
    ],
    [
      "a broker name that is itself dotted",
      "broker.ns.my.broker",
      "EVENTAIL_broker_ns_my_broker",
      "eventail.broker_ns_my_broker.*",
    ],
  ])("maps %s to its stream and subjects", (_, stream, name, subjects) => {
    expect(jetStreamName(stream)).toBe(name);
    expect(jetStreamSubjects(stream)).toBe(subjects);
  });

  it.each([
    ["a dotted type", "dev.knative.sources.ping"],
    ["a type holding NATS wildcards and spaces", "a.* b.>"],
    ["a very long type", "t".repeat(5_000)],
  ])("publishes %s on one subject token under the stream's wildcard", (_, type) => {
    const subject = eventSubject("broker.default.default", type);
    expect(subject).toMatch(/^eventail\.broker_default_default\.[A-Za-z0-9_-]{22}$/);
    expect(eventSubject("broker.default.default", type)).toBe(subject);
    expect(consumerFilter("broker.default.default", type)).toBe(subject);
  });

  it("keeps types apart, and filters nothing without a type hint", () => {
    const a = eventSubject("broker.default.default", "dev.example.a");
    const b = eventSubject("broker.default.default", "dev.example.b");
    expect(a).not.toBe(b);
    expect(consumerFilter("broker.default.default", undefined)).toBeUndefined();
  });

  it.each([
    ["a trigger", "trigger.default.my-trigger", "trigger_default_my-trigger"],
    ["a subscription", "subscription.ns.sub-1", "subscription_ns_sub-1"],
  ])("maps %s to its durable consumer name", (_, consumer, durable) => {
    expect(durableName(consumer)).toBe(durable);
  });

  it.each([
    ["upper case", "broker.Default.default"],
    ["an underscore, which would meet a dot after mapping", "broker.a_b.c"],
    ["an empty label", "broker..default"],
    ["a wildcard", "broker.*.default"],
    ["whitespace", "broker.de fault.x"],
    ["nothing", ""],
  ])("rejects a stream name with %s, naming the field", (_, stream) => {
    expect(() => jetStreamName(stream)).toThrow(/^stream "/);
    expect(() => durableName(stream)).toThrow(/^consumer "/);
  });

  it("keeps names that differ only past the length limit apart, within the limit, stably", () => {
    const long = `trigger.default.${"x".repeat(300)}`;
    const a = durableName(`${long}a`);
    const b = durableName(`${long}b`);
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(128);
    expect(durableName(`${long}a`)).toBe(a);
    expect(jetStreamName(`broker.ns.${"y".repeat(300)}`).length).toBeLessThanOrEqual(128);
  });
});
