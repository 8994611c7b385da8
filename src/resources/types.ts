/**
 * The resource model: the Knative kinds Eventail serves, as read from manifests. Shapes follow the
 * CRDs in crds/ (the source of truth for validation); these types are what runtimes read.
 * Everything is readonly: runtimes react to new resource values from the store, never edit one.
 */

export interface ObjectMeta {
  readonly name: string;
  /** "default" when the manifest names none. */
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Kubernetes' spec generation when the manifest carries one (status.observedGeneration). */
  readonly generation?: number;
}

/** Where a resource was read from, for messages that name `file:line`. */
export interface Origin {
  readonly file: string;
  /** 1-based line where the document (or List item) starts. */
  readonly line: number;
  /** Line of each field, by path (`spec.filters[0].cesql`), when the loader knows it. */
  readonly fieldLines?: ReadonlyMap<string, number>;
}

export interface Resource<Spec = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
  /** ConfigMap and Secret only. */
  readonly data?: Readonly<Record<string, string>>;
  readonly origin: Origin;
}

// ---- shared duck types ----------------------------------------------------------------------

export interface KReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Defaults to the namespace of the resource holding the reference. */
  readonly namespace?: string;
}

/** `{ref}`, `{uri}` (absolute) or `{ref, uri}` (uri relative to the ref's address). */
export interface Destination {
  readonly ref?: KReference;
  readonly uri?: string;
  readonly CACerts?: string;
  readonly audience?: string;
}

export type BackoffPolicy = "linear" | "exponential";

export interface DeliverySpec {
  readonly deadLetterSink?: Destination;
  /** Extra attempts after the first. */
  readonly retry?: number;
  readonly backoffPolicy?: BackoffPolicy;
  /** ISO-8601 durations (parse with parseIsoDuration). */
  readonly backoffDelay?: string;
  readonly timeout?: string;
  readonly retryAfterMax?: string;
  readonly format?: "json" | "binary";
}

export interface ChannelTemplate {
  readonly apiVersion: string;
  readonly kind: string;
  readonly spec?: Readonly<Record<string, unknown>>;
}

export interface CloudEventOverrides {
  readonly extensions?: Readonly<Record<string, string>>;
}

// ---- eventing.knative.dev/v1 ----------------------------------------------------------------

export interface BrokerSpec {
  /** A v1 ConfigMap whose `data.backing` picks memory (default), redis, nats or kafka. */
  readonly config?: KReference;
  readonly delivery?: DeliverySpec;
}

export interface TriggerFilter {
  readonly attributes?: Readonly<Record<string, string>>;
}

/** One Subscriptions API filter; exactly one dialect is set. */
export interface SubscriptionsAPIFilter {
  readonly exact?: Readonly<Record<string, string>>;
  readonly prefix?: Readonly<Record<string, string>>;
  readonly suffix?: Readonly<Record<string, string>>;
  readonly all?: readonly SubscriptionsAPIFilter[];
  readonly any?: readonly SubscriptionsAPIFilter[];
  readonly not?: SubscriptionsAPIFilter;
  readonly cesql?: string;
}

export interface TriggerSpec {
  /** One of broker and brokerRef is set (see triggerBroker in broker-config.ts). */
  readonly broker?: string;
  /** Knative 1.22; another namespace needs config-features `cross-namespace-event-links`. */
  readonly brokerRef?: {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly name: string;
    readonly namespace?: string;
  };
  readonly filter?: TriggerFilter;
  readonly filters?: readonly SubscriptionsAPIFilter[];
  readonly subscriber: Destination;
  readonly delivery?: DeliverySpec;
}

// ---- sources.knative.dev/v1, sinks.knative.dev/v1alpha1 ---------------------------------------

export interface PingSourceSpec {
  readonly schedule: string;
  readonly timezone?: string;
  readonly contentType?: string;
  readonly data?: string;
  readonly dataBase64?: string;
  readonly sink: Destination;
  readonly ceOverrides?: CloudEventOverrides;
}

export interface IntegrationSinkLog {
  readonly loggerName?: string;
  readonly level?: string;
  readonly logMask?: boolean;
  readonly marker?: string;
  readonly multiline?: boolean;
  readonly showAllProperties?: boolean;
  readonly showBody?: boolean;
  readonly showBodyType?: boolean;
  readonly showExchangePattern?: boolean;
  readonly showHeaders?: boolean;
  readonly showProperties?: boolean;
  readonly showStreams?: boolean;
  readonly showCachedStreams?: boolean;
}

export interface IntegrationSinkSpec {
  readonly log?: IntegrationSinkLog;
  /** Knative's AWS integrations: accepted by the schema, rejected by validation (not run here). */
  readonly aws?: Readonly<Record<string, unknown>>;
}

// ---- eventing.knative.dev/v1alpha1: EventTransform, RequestReply (CONTRACT §2a) -------------

export interface JsonataTransformation {
  readonly expression?: string;
}

export interface EventTransformSpec {
  readonly jsonata?: JsonataTransformation;
  /** Absent: the transformed event is the HTTP reply. */
  readonly sink?: Destination;
  /** Only with a sink: how the sink's reply is transformed, or discarded. */
  readonly reply?: {
    readonly jsonata?: JsonataTransformation;
    readonly discard?: boolean;
  };
}

export interface RequestReplySpec {
  /** A Broker of the RequestReply's own namespace. */
  readonly brokerRef: KReference;
  /** Default `correlationid`. */
  readonly correlationAttribute?: string;
  /** Default `replyid`. */
  readonly replyAttribute?: string;
  /** ISO-8601; default PT30S. */
  readonly timeout?: string;
  readonly delivery?: DeliverySpec;
  /** Secrets of the same namespace whose values sign correlation ids (Knative 1.17–1.19). */
  readonly secrets?: readonly string[];
}

// ---- messaging.knative.dev, eventail.io channels --------------------------------------------

export interface ChannelSpec {
  /** Absent means InMemoryChannel. */
  readonly channelTemplate?: ChannelTemplate;
  readonly delivery?: DeliverySpec;
}

export interface InMemoryChannelSpec {
  readonly delivery?: DeliverySpec;
}

export interface KafkaChannelSpec {
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  /** ISO-8601 topic retention. */
  readonly retentionDuration?: string;
  readonly delivery?: DeliverySpec;
}

/** A JetStream stream another stream mirrors or sources from (eventing-natss's StreamSource). */
export interface NatsStreamSource {
  readonly name?: string;
  readonly optStartSeq?: number;
  readonly optStartTime?: string;
  readonly filterSubject?: string;
}

/** knative-extensions/eventing-natss's shape; integer limits of 0 or -1 mean "no maximum". */
export interface NatsJetStreamChannelSpec {
  readonly stream?: {
    readonly overrideName?: string;
    readonly config?: {
      readonly additionalSubjects?: readonly string[];
      /** Work is eventing-natss's name for WorkQueue. */
      readonly retention?: "Limits" | "Interest" | "Work" | "WorkQueue";
      readonly maxConsumers?: number;
      readonly maxMsgs?: number;
      readonly maxBytes?: number;
      readonly discard?: "Old" | "New";
      /** Go duration, as eventing-natss takes it; "0" is no maximum. */
      readonly maxAge?: string;
      readonly maxMsgSize?: number;
      readonly storage?: "File" | "Memory";
      readonly replicas?: number;
      readonly noAck?: boolean;
      readonly duplicateWindow?: string;
      readonly placement?: { readonly cluster?: string; readonly tags?: readonly string[] };
      readonly mirror?: NatsStreamSource;
      readonly sources?: readonly NatsStreamSource[];
    };
  };
  readonly consumerConfigTemplate?: {
    readonly deliverPolicy?: "All" | "Last" | "New" | "ByStartSequence" | "ByStartTime";
    readonly optStartSeq?: number;
    readonly optStartTime?: string;
    readonly ackWait?: string;
    readonly maxDeliver?: number;
    readonly filterSubject?: string;
    readonly replayPolicy?: "Instant" | "Original";
    readonly rateLimitBPS?: number;
    readonly sampleFrequency?: string;
    readonly maxAckPending?: number;
    readonly consumerType?: "Push" | "Pull";
    readonly fetchMaxWait?: string;
    readonly fetchBatchSize?: number;
  };
  readonly delivery?: DeliverySpec;
}

export interface RedisStreamChannelSpec {
  /** Approximate stream length kept (0 or absent: never trimmed). */
  readonly maxLen?: number;
  readonly delivery?: DeliverySpec;
}

export interface SubscriptionSpec {
  readonly channel: KReference;
  readonly subscriber?: Destination;
  readonly reply?: Destination;
  readonly delivery?: DeliverySpec;
}

// ---- flows.knative.dev/v1 -------------------------------------------------------------------

export interface SequenceStep extends Destination {
  readonly delivery?: DeliverySpec;
}

export interface SequenceSpec {
  readonly steps: readonly SequenceStep[];
  readonly channelTemplate?: ChannelTemplate;
  readonly reply?: Destination;
}

export interface ParallelBranch {
  readonly filter?: Destination;
  readonly subscriber: Destination;
  readonly reply?: Destination;
  readonly delivery?: DeliverySpec;
}

export interface ParallelSpec {
  readonly branches: readonly ParallelBranch[];
  readonly channelTemplate?: ChannelTemplate;
  readonly reply?: Destination;
}

/** Knative's tracker reference: a name, or a label selector, of one kind in the binding's namespace. */
export interface SinkBindingSubject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly selector?: {
    readonly matchLabels?: Readonly<Record<string, string>>;
    readonly matchExpressions?: readonly {
      readonly key: string;
      readonly operator: string;
      readonly values?: readonly string[];
    }[];
  };
}

export interface SinkBindingSpec {
  readonly subject: SinkBindingSubject;
  readonly sink: Destination;
  readonly ceOverrides?: CloudEventOverrides;
}

/** eventing.knative.dev v1beta2 (v1beta3 moves type/source into `attributes`). Declared only. */
export interface EventTypeSpec {
  readonly broker?: string;
  readonly reference?: KReference;
  readonly type?: string;
  readonly source?: string;
  readonly schema?: string;
  readonly schemaData?: string;
  readonly description?: string;
  readonly attributes?: readonly {
    readonly name: string;
    readonly required?: boolean;
    readonly value?: string;
  }[];
}

// ---- v1 core kinds --------------------------------------------------------------------------

export interface ConfigMapResource extends Resource<undefined> {
  readonly binaryData?: Readonly<Record<string, string>>;
  readonly immutable?: boolean;
}

/** `data` values are base64; `stringData` values are plain and win over `data` (see secretData). */
export interface SecretResource extends Resource<undefined> {
  readonly stringData?: Readonly<Record<string, string>>;
  readonly type?: string;
  readonly immutable?: boolean;
}

export type BrokerResource = Resource<BrokerSpec>;
export type TriggerResource = Resource<TriggerSpec>;
export type PingSourceResource = Resource<PingSourceSpec>;
export type IntegrationSinkResource = Resource<IntegrationSinkSpec>;
export type ChannelResource = Resource<ChannelSpec>;
export type InMemoryChannelResource = Resource<InMemoryChannelSpec>;
export type KafkaChannelResource = Resource<KafkaChannelSpec>;
export type NatsJetStreamChannelResource = Resource<NatsJetStreamChannelSpec>;
export type RedisStreamChannelResource = Resource<RedisStreamChannelSpec>;
export type SubscriptionResource = Resource<SubscriptionSpec>;
export type SequenceResource = Resource<SequenceSpec>;
export type ParallelResource = Resource<ParallelSpec>;
export type SinkBindingResource = Resource<SinkBindingSpec>;
export type EventTypeResource = Resource<EventTypeSpec>;
export type EventTransformResource = Resource<EventTransformSpec>;
export type RequestReplyResource = Resource<RequestReplySpec>;

/** Kind name → its resource type, so `store.list("Trigger")` is typed. Add a row per new kind. */
export interface ResourceKinds {
  Broker: BrokerResource;
  Trigger: TriggerResource;
  PingSource: PingSourceResource;
  IntegrationSink: IntegrationSinkResource;
  Channel: ChannelResource;
  InMemoryChannel: InMemoryChannelResource;
  KafkaChannel: KafkaChannelResource;
  NatsJetStreamChannel: NatsJetStreamChannelResource;
  RedisStreamChannel: RedisStreamChannelResource;
  Subscription: SubscriptionResource;
  Sequence: SequenceResource;
  Parallel: ParallelResource;
  SinkBinding: SinkBindingResource;
  EventType: EventTypeResource;
  ConfigMap: ConfigMapResource;
  Secret: SecretResource;
  EventTransform: EventTransformResource;
  RequestReply: RequestReplyResource;
}

export type KnownKind = keyof ResourceKinds;
