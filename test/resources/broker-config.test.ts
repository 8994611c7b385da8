import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  backingOfConfigMap,
  brokerBacking,
  defaultBrokerConfig,
  triggerBroker,
} from "../../src/resources/broker-config.js";
import { MissingReferenceError } from "../../src/resources/missing-reference.js";

type Data = Record<string, string>;

/** ConfigMaps by namespace/name, as brokerBacking looks them up. */
function lookup(configMaps: Record<string, Data>) {
  return (namespace: string, name: string) => configMaps[`${namespace}/${name}`];
}

const noConfigMaps = lookup({});

const template = (kind: string, apiVersion = "messaging.knative.dev/v1") =>
  `apiVersion: ${apiVersion}\nkind: ${kind}\n`;

describe("backingOfConfigMap: what a Broker ConfigMap picks (CONTRACT §5)", () => {
  it.each<[string, Data, string | undefined, unknown]>([
    [
      "Eventail's own data.backing, its other keys as settings",
      { backing: "redis", url: "redis://127.0.0.1:6379" },
      undefined,
      { kind: "redis", settings: { url: "redis://127.0.0.1:6379" } },
    ],
    [
      "data.backing memory carries no settings",
      { backing: "memory", x: "1" },
      undefined,
      {
        kind: "memory",
        settings: {},
      },
    ],
    [
      "Knative's Kafka broker config means kafka; default.topic.* become the backing's names",
      {
        "bootstrap.servers": "my-cluster-kafka-bootstrap.kafka:9092",
        "default.topic.partitions": "10",
        "default.topic.replication.factor": "3",
        "default.topic.config.retention.ms": "604800000",
        "auth.secret.ref.name": "kafka-sasl",
      },
      "Kafka",
      {
        kind: "kafka",
        settings: {
          "bootstrap.servers": "my-cluster-kafka-bootstrap.kafka:9092",
          "num.partitions": "10",
          "replication.factor": "3",
        },
      },
    ],
    [
      "bootstrap.servers alone means kafka whatever the class",
      { "bootstrap.servers": "127.0.0.1:9092" },
      undefined,
      { kind: "kafka", settings: { "bootstrap.servers": "127.0.0.1:9092" } },
    ],
    [
      "channel-template-spec with InMemoryChannel means memory",
      { "channel-template-spec": template("InMemoryChannel") },
      "MTChannelBasedBroker",
      { kind: "memory", settings: {} },
    ],
    [
      "channel-template-spec with KafkaChannel means kafka (servers from the environment)",
      { "channel-template-spec": template("KafkaChannel", "messaging.knative.dev/v1beta1") },
      undefined,
      { kind: "kafka", settings: {} },
    ],
    [
      "channel-template-spec with NatsJetStreamChannel means nats",
      {
        "channel-template-spec": template("NatsJetStreamChannel", "messaging.knative.dev/v1alpha1"),
      },
      undefined,
      { kind: "nats", settings: {} },
    ],
    [
      "channel-template-spec with RedisStreamChannel means redis",
      { "channel-template-spec": template("RedisStreamChannel", "eventail.io/v1alpha1") },
      undefined,
      { kind: "redis", settings: {} },
    ],
    [
      "with both Knative shapes, a Kafka class picks kafka",
      { "bootstrap.servers": "k:9092", "channel-template-spec": template("InMemoryChannel") },
      "Kafka",
      { kind: "kafka", settings: { "bootstrap.servers": "k:9092" } },
    ],
    [
      "with both Knative shapes and no class, Knative's default class picks the channel",
      { "bootstrap.servers": "k:9092", "channel-template-spec": template("InMemoryChannel") },
      undefined,
      { kind: "memory", settings: {} },
    ],
    [
      "data.backing wins over Knative's keys",
      { backing: "nats", "bootstrap.servers": "k:9092" },
      "Kafka",
      { kind: "nats", settings: { "bootstrap.servers": "k:9092" } },
    ],
  ])("%s", (_what, data, brokerClass, expected) => {
    expect(backingOfConfigMap(data, brokerClass, noConfigMaps, parse)).toEqual(expected);
  });

  it("takes a KafkaChannel template's servers from Knative's kafka-channel-config", () => {
    const configMaps = lookup({
      "knative-eventing/kafka-channel-config": { "bootstrap.servers": "kc:9092" },
    });
    const data = { "channel-template-spec": template("KafkaChannel") };
    expect(backingOfConfigMap(data, undefined, configMaps, parse)).toEqual({
      kind: "kafka",
      settings: { "bootstrap.servers": "kc:9092" },
    });
  });

  it.each<[string, Data, string]>([
    ["an unknown data.backing", { backing: "mongodb" }, 'sets data.backing to "mongodb"'],
    ["no key that picks a backing", { url: "redis://x" }, "picks no backing"],
    [
      "a channel template naming no channel kind",
      { "channel-template-spec": template("Broker", "eventing.knative.dev/v1") },
      "names no channel kind Eventail runs",
    ],
  ])("says why %s picks nothing", (_what, data, fragment) => {
    expect(backingOfConfigMap(data, undefined, noConfigMaps, parse)).toEqual(
      expect.stringContaining(fragment),
    );
  });

  it("never throws, whatever strings the ConfigMap holds", () => {
    const key = fc.constantFrom(
      "backing",
      "bootstrap.servers",
      "channel-template-spec",
      "default.topic.partitions",
      "auth.secret.ref.name",
      "url",
    );
    const quietYaml = (text: string) => {
      try {
        return parse(text);
      } catch {
        return undefined;
      }
    };
    fc.assert(
      fc.property(fc.dictionary(key, fc.string()), fc.option(fc.string()), (data, cls) => {
        const choice = backingOfConfigMap(data, cls ?? undefined, noConfigMaps, quietYaml);
        if (typeof choice !== "string") {
          expect(["memory", "redis", "nats", "kafka"]).toContain(choice.kind);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("defaultBrokerConfig: Knative's config-br-defaults lookup", () => {
  const ref = (name: string, namespace = "knative-eventing") => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    name,
    namespace,
  });
  const defaults = parse(`
clusterDefault:
  brokerClass: MTChannelBasedBroker
  apiVersion: v1
  kind: ConfigMap
  name: config-br-default-channel
  namespace: knative-eventing
  brokerClasses:
    Kafka:
      apiVersion: v1
      kind: ConfigMap
      name: kafka-broker-config
      namespace: knative-eventing
namespaceDefaults:
  team-a:
    brokerClass: Kafka
    apiVersion: v1
    kind: ConfigMap
    name: team-a-kafka
    namespace: team-a
  team-b:
    brokerClasses:
      MTChannelBasedBroker:
        apiVersion: v1
        kind: ConfigMap
        name: team-b-channel
        namespace: team-b
`);
  it.each<[string, string, string | undefined, unknown]>([
    [
      "no class, no namespace entry: the cluster default",
      "shop",
      undefined,
      ref("config-br-default-channel"),
    ],
    [
      "a class the cluster lists: its brokerClasses entry",
      "shop",
      "Kafka",
      ref("kafka-broker-config"),
    ],
    [
      "a class nobody lists: the cluster default",
      "shop",
      "Other",
      ref("config-br-default-channel"),
    ],
    [
      "no class: the namespace's own class and config",
      "team-a",
      undefined,
      ref("team-a-kafka", "team-a"),
    ],
    ["the namespace's class named: its config", "team-a", "Kafka", ref("team-a-kafka", "team-a")],
    [
      "another class in that namespace: the cluster's entry for it",
      "team-a",
      "MTChannelBasedBroker",
      ref("config-br-default-channel"),
    ],
    [
      "a namespace's brokerClasses entry for the named class",
      "team-b",
      "MTChannelBasedBroker",
      ref("team-b-channel", "team-b"),
    ],
    [
      "no class and a namespace entry without one: the cluster default, as Knative does",
      "team-b",
      undefined,
      ref("config-br-default-channel"),
    ],
  ])("%s", (_what, namespace, brokerClass, expected) => {
    expect(defaultBrokerConfig(defaults, namespace, brokerClass)).toEqual(expected);
  });

  it("never throws on whatever the YAML held", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.string(), fc.option(fc.string()), (value, ns, cls) => {
        const found = defaultBrokerConfig(value, ns, cls ?? undefined);
        if (found) expect(typeof found.name).toBe("string");
      }),
      { numRuns: 2000 },
    );
  });
});

describe("brokerBacking: a Broker's backing from spec.config or Knative's defaults", () => {
  const broker = (spec: object, annotations?: Record<string, string>) => ({
    metadata: { namespace: "shop", ...(annotations ? { annotations } : {}) },
    spec,
  });
  const configRef = { apiVersion: "v1", kind: "ConfigMap", name: "kafka-broker-config" };
  const configMaps = lookup({
    "shop/kafka-broker-config": { "bootstrap.servers": "k:9092" },
    "knative-eventing/config-br-defaults": {
      "default-br-config":
        "clusterDefault:\n  brokerClass: MTChannelBasedBroker\n  apiVersion: v1\n  kind: ConfigMap\n  name: config-br-default-channel\n  namespace: knative-eventing\n",
    },
    "knative-eventing/config-br-default-channel": {
      "channel-template-spec": template("KafkaChannel", "messaging.knative.dev/v1beta1"),
    },
  });

  it("reads spec.config", () => {
    expect(brokerBacking(broker({ config: configRef }), configMaps, parse)).toEqual({
      kind: "kafka",
      settings: { "bootstrap.servers": "k:9092" },
    });
  });

  it("without spec.config, follows config-br-defaults to its channel template", () => {
    expect(brokerBacking(broker({}), configMaps, parse)).toEqual({ kind: "kafka", settings: {} });
  });

  it("without spec.config nor config-br-defaults, runs on memory", () => {
    expect(brokerBacking(broker({}), noConfigMaps, parse)).toEqual({
      kind: "memory",
      settings: {},
    });
  });

  it("a ConfigMap not among the resources is a MissingReferenceError naming the field (the broker waits)", () => {
    const missing = { ...configRef, name: "nope" };
    let caught: unknown;
    try {
      brokerBacking(broker({ config: missing }), configMaps, parse);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MissingReferenceError);
    expect(caught).toMatchObject({
      target: { kind: "ConfigMap", namespace: "shop", name: "nope" },
      path: "spec.config.name",
      message: "ConfigMap shop/nope is not among the manifests",
    });
  });

  it("a RabbitmqBrokerConfig picks rabbitmq: the URL from its connection Secret, vhost and queue type", () => {
    const ref = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "RabbitmqBrokerConfig",
      name: "rabbit",
    };
    const config = {
      spec: {
        rabbitmqClusterReference: { connectionSecret: { name: "creds" } },
        vhost: "orders",
        queueType: "classic",
      },
    };
    const choice = brokerBacking(broker({ config: ref }), noConfigMaps, parse, {
      resource: (kind, namespace, name) =>
        kind === "RabbitmqBrokerConfig" && namespace === "shop" && name === "rabbit"
          ? config
          : undefined,
      secret: (namespace, name) =>
        namespace === "shop" && name === "creds"
          ? { uri: "http://rabbit.shop.svc:15672", username: "u", password: "p@ss" }
          : undefined,
    });
    expect(choice).toEqual({
      kind: "rabbitmq",
      settings: { url: "amqp://u:p%40ss@rabbit.shop.svc:5672/orders", queueType: "classic" },
    });
  });

  it("a RabbitmqBrokerConfig not among the manifests is a missing reference", () => {
    const ref = {
      apiVersion: "eventing.knative.dev/v1alpha1",
      kind: "RabbitmqBrokerConfig",
      name: "nope",
    };
    expect(() => brokerBacking(broker({ config: ref }), noConfigMaps, parse)).toThrow(
      MissingReferenceError,
    );
  });

  it("an operator's RabbitmqCluster picks rabbitmq with no URL (RABBITMQ_URL or the local default)", () => {
    const ref = { apiVersion: "rabbitmq.com/v1beta1", kind: "RabbitmqCluster", name: "rabbit" };
    expect(brokerBacking(broker({ config: ref }), noConfigMaps, parse)).toEqual({
      kind: "rabbitmq",
      settings: {},
    });
  });
});

describe("triggerBroker", () => {
  it.each([
    ["spec.broker, in the Trigger's namespace", { broker: "orders" }, "shop/orders"],
    ["spec.brokerRef without a namespace", { brokerRef: { name: "orders" } }, "shop/orders"],
    [
      "spec.brokerRef of another namespace",
      { brokerRef: { name: "o", namespace: "hub" } },
      "hub/o",
    ],
  ])("finds %s", (_what, spec, expected) => {
    const found = triggerBroker({ metadata: { namespace: "shop" }, spec });
    expect(`${found.namespace}/${found.name}`).toBe(expected);
  });
});
