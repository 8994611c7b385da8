import { describe, expect, it } from "vitest";
import { groupId, topicName } from "../../../src/backing/kafka/naming.js";
import {
  type KafkaSettings,
  KafkaSettingsError,
  readKafkaSettings,
} from "../../../src/backing/kafka/settings.js";

function read(settings: Record<string, string>, env: NodeJS.ProcessEnv = {}): KafkaSettings {
  return readKafkaSettings({ kind: "kafka", settings }, env);
}

describe("kafka settings", () => {
  it.each<[string, Record<string, string>, NodeJS.ProcessEnv, string[]]>([
    [
      "the ConfigMap's bootstrap.servers wins",
      { "bootstrap.servers": "a:1,b:2" },
      { KAFKA_BROKERS: "env:9" },
      ["a:1", "b:2"],
    ],
    [
      "KAFKA_BROKERS is the default when the ConfigMap names none",
      {},
      { KAFKA_BROKERS: "env:9" },
      ["env:9"],
    ],
    ["localhost:9092 is the last resort", {}, {}, ["localhost:9092"]],
    [
      "blanks around entries are ignored",
      { "bootstrap.servers": " a:1 , b:2 ," },
      {},
      ["a:1", "b:2"],
    ],
  ])("brokers: %s", (_, settings, env, brokers) => {
    expect(read(settings, env).brokers).toEqual(brokers);
  });

  it.each<[string, Record<string, string>, Partial<KafkaSettings>]>([
    [
      "production defaults leave a dead member's partitions alone for 15 s",
      {},
      {
        sessionTimeoutMs: 15_000,
        heartbeatIntervalMs: 3_000,
        publishTimeoutMs: 4_000,
        numPartitions: 4,
      },
    ],
    [
      "a short session timeout brings the heartbeat interval down with it",
      { "session.timeout.ms": "3000" },
      { sessionTimeoutMs: 3_000, heartbeatIntervalMs: 600 },
    ],
    [
      "an explicit heartbeat interval is kept",
      { "session.timeout.ms": "3000", "heartbeat.interval.ms": "1000" },
      { heartbeatIntervalMs: 1_000 },
    ],
    [
      "replication.factor -1 means the cluster default",
      { "replication.factor": "-1" },
      { replicationFactor: -1 },
    ],
    ["name.prefix may be emptied", { "name.prefix": "" }, { namePrefix: "" }],
  ])("%s", (_, settings, expected) => {
    expect(read(settings)).toMatchObject(expected);
  });

  it.each<[string, Record<string, string>, string]>([
    ["a broker without a port", { "bootstrap.servers": "kafka" }, "bootstrap.servers"],
    ["a list of nothing", { "bootstrap.servers": " , " }, "bootstrap.servers"],
    ["a duration that is not a number", { "session.timeout.ms": "3s" }, "session.timeout.ms"],
    ["a negative timeout", { "publish.timeout.ms": "-5" }, "publish.timeout.ms"],
    ["a fractional partition count", { "num.partitions": "2.5" }, "num.partitions"],
    [
      "a heartbeat no shorter than the session",
      { "session.timeout.ms": "3000", "heartbeat.interval.ms": "3000" },
      "heartbeat.interval.ms",
    ],
  ])("rejects %s, naming the key", (_, settings, field) => {
    let error: unknown;
    try {
      read(settings);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KafkaSettingsError);
    expect((error as KafkaSettingsError).field).toBe(field);
    expect((error as Error).message).toContain(field);
  });
});

describe("kafka names", () => {
  it.each([
    [
      "a broker's stream keeps its name under the prefix",
      "eventail",
      "broker.default.default",
      "eventail.broker.default.default",
    ],
    ["a channel's stream likewise", "eventail", "channel.ns.orders", "eventail.channel.ns.orders"],
    ["an empty prefix leaves the stream as it is", "", "broker.a.b", "broker.a.b"],
  ])("%s", (_, prefix, stream, topic) => {
    expect(topicName(prefix, stream)).toBe(topic);
  });

  it.each([
    ["characters Kafka refuses", "broker.ns.a:b"],
    ["names past Kafka's 249 characters", `broker.ns.${"x".repeat(260)}`],
  ])("%s become legal, stay distinct and stay stable", (_, stream) => {
    const topic = topicName("eventail", stream);
    expect(topic).toMatch(/^[a-zA-Z0-9._-]{1,249}$/);
    expect(topicName("eventail", stream)).toBe(topic);
    expect(topicName("eventail", `${stream}x`)).not.toBe(topic);
  });

  it("gives each (stream, consumer) its own group and no two pairs the same one", () => {
    const pairs: Array<[string, string]> = [
      ["broker.a.b", "trigger.a.t"],
      ["broker.a.b", "trigger.a.u"],
      ["broker.a.c", "trigger.a.t"],
      ["channel.a.b", "subscription.a.t"],
    ];
    const groups = pairs.map(([stream, consumer]) => groupId("eventail", stream, consumer));
    expect(new Set(groups).size).toBe(pairs.length);
    expect(groups[0]).toBe("eventail.broker.a.b/trigger.a.t");
  });
});
