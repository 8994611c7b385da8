import { describe, expect, it } from "vitest";
import { durableName, jetStreamName, jetStreamSubject } from "../../../src/channels/nats/naming.js";

describe("NATS naming", () => {
  it.each([
    [
      "a broker stream",
      "broker.default.default",
      "EVENTAIL_broker_default_default",
      "eventail.broker.default.default",
    ],
    [
      "a channel stream with dashes",
      "channel.team-a.orders-v2",
      "EVENTAIL_channel_team-a_orders-v2",
      "eventail.channel.team-a.orders-v2",
    ],
    [
      "a broker name that is itself dotted",
      "broker.ns.my.broker",
      "EVENTAIL_broker_ns_my_broker",
      "eventail.broker.ns.my.broker",
    ],
  ])("maps %s to its stream and subject", (_, stream, name, subject) => {
    expect(jetStreamName(stream)).toBe(name);
    expect(jetStreamSubject(stream)).toBe(subject);
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
