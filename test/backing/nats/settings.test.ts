import { describe, expect, it } from "vitest";
import { parseNatsSettings, redeliveryDelay } from "../../../src/backing/nats/settings.js";

const parse = (settings: Record<string, string>, env: Record<string, string> = {}) =>
  parseNatsSettings({ kind: "nats", settings }, env);

describe("NATS backing settings", () => {
  it.each([
    ["the ConfigMap url first", { url: "nats://a:1" }, { NATS_URL: "nats://b:2" }, ["nats://a:1"]],
    ["NATS_URL when the ConfigMap names none", {}, { NATS_URL: "nats://b:2" }, ["nats://b:2"]],
    ["localhost when neither does", {}, {}, ["nats://127.0.0.1:4222"]],
    [
      "every server of a comma-separated list",
      { url: "nats://a:1, nats://b:2" },
      {},
      ["nats://a:1", "nats://b:2"],
    ],
  ])("takes %s", (_, settings, env, servers) => {
    expect(parse(settings, env).servers).toEqual(servers);
  });

  it("defaults to a 30 s ack wait and a publish timeout under the 5 s the broker allows", () => {
    const settings = parse({});
    expect(settings.ackWaitMs).toBe(30_000);
    expect(settings.publishTimeoutMs).toBeLessThanOrEqual(5_000);
  });

  it.each([
    ["ackWaitMs", "abc"],
    ["ackWaitMs", "500"],
    ["publishTimeoutMs", "0"],
    ["replicas", "1.5"],
  ])("rejects %s=%s naming the setting", (key, value) => {
    expect(() => parse({ [key]: value })).toThrow(`settings.${key}`);
  });

  it.each([
    [1, 500],
    [2, 1_000],
    [4, 4_000],
    [100, 30_000],
  ])("waits before redelivery %i: %i ms", (deliveryCount, ms) => {
    expect(redeliveryDelay(parse({}), deliveryCount)).toBe(ms);
  });
});
