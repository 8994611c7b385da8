/**
 * Which backing a Broker runs on (CONTRACT §5), read the way Knative reads a Broker's config, so
 * Knative's own ConfigMaps run unchanged. In order:
 * - `spec.config`, else Knative's defaults: `data.default-br-config` of ConfigMap
 *   `knative-eventing/config-br-defaults` (per namespace, per broker class, then cluster-wide),
 *   else no config at all: memory.
 * - The ConfigMap's `data.backing` when set (Eventail's own key); else Knative's shapes:
 *   `bootstrap.servers` (the Kafka broker's config) means kafka, `channel-template-spec` (the
 *   MT channel-based broker's) means the backing of that channel kind.
 * Used by validation and by the runtime alike; YAML text inside a ConfigMap is read through the
 * `parseYaml` the caller hands in (the serving process loads a YAML parser only when it needs one).
 */
import { MissingReferenceError } from "./missing-reference.js";
import {
  isRabbitBrokerConfig,
  isRabbitCluster,
  type ResourceLookup,
  rabbitBrokerSettings,
  type SecretLookup,
} from "./rabbitmq-config.js";
import type { KReference } from "./types.js";

export const BACKINGS = ["memory", "redis", "nats", "kafka", "rabbitmq"] as const;
export type BackingKind = (typeof BACKINGS)[number];

/** Structurally the backing/ BackingConfig: the kind and the engine's own settings. */
export interface BackingChoice {
  readonly kind: BackingKind;
  readonly settings: Readonly<Record<string, string>>;
}

/** The concrete channel kinds and the backing each one stores its events on. */
export const CHANNEL_BACKINGS: Readonly<Record<string, BackingKind>> = {
  InMemoryChannel: "memory",
  KafkaChannel: "kafka",
  NatsJetStreamChannel: "nats",
  RedisStreamChannel: "redis",
};

export const KNATIVE_NAMESPACE = "knative-eventing";
export const BROKER_DEFAULTS_CONFIG_MAP = "config-br-defaults";
export const BROKER_DEFAULTS_KEY = "default-br-config";
export const CHANNEL_TEMPLATE_KEY = "channel-template-spec";
export const BROKER_CLASS_ANNOTATION = "eventing.knative.dev/broker.class";
/** Knative's KafkaChannel reads its bootstrap servers from here. */
const KAFKA_CHANNEL_CONFIG_MAP = "kafka-channel-config";

/** Broker classes Knative ships (and Eventail's own); Eventail serves each one itself. */
export const BROKER_CLASSES = [
  "MTChannelBasedBroker",
  "Kafka",
  "KafkaNamespaced",
  "NatsJetStreamBroker",
  "RabbitMQBroker",
  "Eventail",
] as const;

/** Knative Kafka broker keys Eventail reads, by the Kafka backing's name for them. */
const KNATIVE_KAFKA_KEYS: Readonly<Record<string, string>> = {
  "default.topic.partitions": "num.partitions",
  "default.topic.replication.factor": "replication.factor",
};

export type ParseYaml = (text: string) => unknown;
export type ConfigMapData = (
  namespace: string,
  name: string,
) => Readonly<Record<string, string>> | undefined;

/** Whether any ConfigMap holds the YAML text Knative's broker configs keep in their data. */
export function holdsYaml(
  configMaps: readonly { readonly data?: Readonly<Record<string, string>> }[],
) {
  return configMaps.some(
    (c) =>
      c.data?.[CHANNEL_TEMPLATE_KEY] !== undefined || c.data?.[BROKER_DEFAULTS_KEY] !== undefined,
  );
}

/** A Broker whose configuration cannot pick a backing; `path` is the Broker's field at fault. */
export class BrokerConfigError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = "BrokerConfigError";
  }
}

interface BrokerLike {
  readonly metadata: {
    readonly namespace: string;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: { readonly config?: KReference } | undefined;
}

/** The ConfigMap a Broker takes its backing from, or undefined (memory). */
export function brokerConfigRef(
  broker: BrokerLike,
  configMaps: ConfigMapData,
  parseYaml: ParseYaml,
): { ref: KReference; from: string } | undefined {
  const ref = broker.spec?.config;
  if (ref) return { ref, from: "spec.config" };
  const defaults = configMaps(KNATIVE_NAMESPACE, BROKER_DEFAULTS_CONFIG_MAP)?.[BROKER_DEFAULTS_KEY];
  if (defaults === undefined) return undefined;
  const found = defaultBrokerConfig(
    parseYaml(defaults),
    broker.metadata.namespace,
    broker.metadata.annotations?.[BROKER_CLASS_ANNOTATION],
  );
  return found
    ? { ref: found, from: `${KNATIVE_NAMESPACE}/${BROKER_DEFAULTS_CONFIG_MAP}` }
    : undefined;
}

/**
 * The backing a Broker runs on. Throws BrokerConfigError when its configuration picks none, and
 * MissingReferenceError when the ConfigMap it names is not among the manifests.
 */
export function brokerBacking(
  broker: BrokerLike,
  configMaps: ConfigMapData,
  parseYaml: ParseYaml,
  /** Where a RabbitmqBrokerConfig and its connection Secret are looked up. */
  lookup: { resource: ResourceLookup; secret: SecretLookup } = {
    resource: () => undefined,
    secret: () => undefined,
  },
): BackingChoice {
  const found = brokerConfigRef(broker, configMaps, parseYaml);
  if (!found) return { kind: "memory", settings: {} };
  const { ref, from } = found;
  const via = from === "spec.config" ? "" : ` (the default of ConfigMap ${from})`;
  // An operator's cluster named directly: its address is unknown standalone (the Broker rule
  // warns); the backing connects to RABBITMQ_URL or the local default.
  if (isRabbitCluster(ref)) return { kind: "rabbitmq", settings: {} };
  if (isRabbitBrokerConfig(ref)) {
    const namespace = ref.namespace || broker.metadata.namespace;
    const config = lookup.resource("RabbitmqBrokerConfig", namespace, ref.name);
    if (!config) {
      const path = from === "spec.config" ? "spec.config.name" : "spec.config";
      throw new MissingReferenceError("RabbitmqBrokerConfig", namespace, ref.name, path, via);
    }
    const { settings, address } = rabbitBrokerSettings(config, namespace, lookup.secret);
    if (address.from === "missing") {
      throw new MissingReferenceError(
        "Secret",
        address.namespace,
        address.name,
        "spec.config",
        via,
      );
    }
    if (address.from === "invalid") {
      throw new BrokerConfigError(
        `RabbitmqBrokerConfig ${namespace}/${ref.name} ${address.path}: ${address.message}${via}`,
        "spec.config",
      );
    }
    return { kind: "rabbitmq", settings };
  }
  if (ref.kind !== "ConfigMap" || (ref.apiVersion ?? "v1") !== "v1") {
    throw new BrokerConfigError(
      `must reference a v1 ConfigMap (got ${ref.apiVersion} ${ref.kind})${via}`,
      "spec.config",
    );
  }
  const namespace = ref.namespace || broker.metadata.namespace;
  const data = configMaps(namespace, ref.name);
  if (!data) {
    const path = from === "spec.config" ? "spec.config.name" : "spec.config";
    throw new MissingReferenceError("ConfigMap", namespace, ref.name, path, via);
  }
  const brokerClass = broker.metadata.annotations?.[BROKER_CLASS_ANNOTATION];
  const choice = backingOfConfigMap(data, brokerClass, configMaps, parseYaml);
  if (typeof choice === "string") {
    throw new BrokerConfigError(
      `ConfigMap ${namespace}/${ref.name} ${choice}${via}`,
      "spec.config",
    );
  }
  return choice;
}

/**
 * What a Broker ConfigMap's data picks, or why it picks nothing (a sentence that follows
 * "ConfigMap ns/name"). With both Knative shapes present the broker class decides, as on Knative.
 */
export function backingOfConfigMap(
  data: Readonly<Record<string, string>>,
  brokerClass: string | undefined,
  configMaps: ConfigMapData,
  parseYaml: ParseYaml,
): BackingChoice | string {
  const backing = data["backing"];
  if (backing !== undefined) {
    if (!(BACKINGS as readonly string[]).includes(backing)) {
      return `sets data.backing to ${JSON.stringify(backing)}; expected one of ${BACKINGS.join(", ")}`;
    }
    const { backing: _, ...settings } = data;
    return { kind: backing as BackingKind, settings: backing === "memory" ? {} : settings };
  }
  const kafka = data["bootstrap.servers"] !== undefined;
  const template = data[CHANNEL_TEMPLATE_KEY];
  const kafkaClass = brokerClass === "Kafka" || brokerClass === "KafkaNamespaced";
  if (kafka && (template === undefined || kafkaClass)) {
    return { kind: "kafka", settings: knativeKafkaSettings(data) };
  }
  if (template !== undefined) {
    const kind = channelTemplateKind(template, parseYaml);
    if (kind === undefined || CHANNEL_BACKINGS[kind] === undefined) {
      return `has a data.${CHANNEL_TEMPLATE_KEY} that names no channel kind Eventail runs (${Object.keys(CHANNEL_BACKINGS).join(", ")})`;
    }
    return channelKindBacking(kind, configMaps);
  }
  return (
    `picks no backing: set data.backing (${BACKINGS.join(", ")}), or Knative's ` +
    `bootstrap.servers (Kafka broker) or ${CHANNEL_TEMPLATE_KEY} (channel-based broker); ` +
    "a Broker without spec.config uses memory"
  );
}

/** The backing of a channel kind; a KafkaChannel reads Knative's kafka-channel-config when given. */
export function channelKindBacking(kind: string, configMaps: ConfigMapData): BackingChoice {
  const backing = CHANNEL_BACKINGS[kind] ?? "memory";
  if (backing !== "kafka") return { kind: backing, settings: {} };
  const servers = configMaps(KNATIVE_NAMESPACE, KAFKA_CHANNEL_CONFIG_MAP)?.["bootstrap.servers"];
  return { kind: backing, settings: servers ? { "bootstrap.servers": servers } : {} };
}

/** The kind a `channel-template-spec` names, or undefined when it is not such a mapping. */
export function channelTemplateKind(text: string, parseYaml: ParseYaml): string | undefined {
  const template = parseYaml(text);
  if (typeof template !== "object" || template === null) return undefined;
  const kind = (template as Record<string, unknown>)["kind"];
  return typeof kind === "string" ? kind : undefined;
}

/**
 * Knative Kafka broker keys translated to the Kafka backing's (`default.topic.partitions` →
 * `num.partitions`); the other `default.topic.*` and `auth.*` keys (and a channel template beside
 * them) only mean something to Knative's data plane and are left out. Eventail's own Kafka keys
 * pass through.
 */
function knativeKafkaSettings(data: Readonly<Record<string, string>>): Record<string, string> {
  const settings: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) {
    const translated = KNATIVE_KAFKA_KEYS[key];
    if (translated !== undefined) settings[translated] = value;
    else if (!/^(default\.topic\.|auth\.|channel-template-spec$)/.test(key)) settings[key] = value;
  }
  return settings;
}

/**
 * Knative's lookup in `default-br-config` (pkg/apis/config/defaults.go): the namespace's entry
 * then the cluster default, each by broker class (`brokerClasses`) then its own config.
 */
export function defaultBrokerConfig(
  defaults: unknown,
  namespace: string,
  brokerClass: string | undefined,
): KReference | undefined {
  const root = asRecord(defaults);
  const cluster = asRecord(root?.["clusterDefault"]);
  const own = asRecord(asRecord(root?.["namespaceDefaults"])?.[namespace]);
  const className = brokerClass || asString(own?.["brokerClass"]);
  if (!className) return configRef(cluster);
  const byClass = (entry: Record<string, unknown> | undefined) =>
    configRef(asRecord(asRecord(entry?.["brokerClasses"])?.[className]));
  if (own) {
    const ownDefault = asString(own["brokerClass"]) === className ? configRef(own) : undefined;
    const found = byClass(own) ?? ownDefault;
    if (found) return found;
  }
  return byClass(cluster) ?? configRef(cluster);
}

function configRef(entry: Record<string, unknown> | undefined): KReference | undefined {
  const name = asString(entry?.["name"]);
  const kind = asString(entry?.["kind"]);
  if (!entry || !name || !kind) return undefined;
  const namespace = asString(entry["namespace"]);
  return {
    apiVersion: asString(entry["apiVersion"]) ?? "v1",
    kind,
    name,
    ...(namespace ? { namespace } : {}),
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** The Broker a Trigger names: `spec.brokerRef` (Knative 1.22, possibly another namespace) or `spec.broker`. */
export function triggerBroker(trigger: {
  readonly metadata: { readonly namespace: string };
  readonly spec?: {
    readonly broker?: string;
    readonly brokerRef?: { readonly name: string; readonly namespace?: string };
  };
}): { namespace: string; name: string } {
  const ref = trigger.spec?.brokerRef;
  if (ref) return { namespace: ref.namespace || trigger.metadata.namespace, name: ref.name };
  return { namespace: trigger.metadata.namespace, name: trigger.spec?.broker ?? "" };
}
