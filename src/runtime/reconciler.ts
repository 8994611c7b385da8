import type { Backing, BackingConfig, ReplayStore } from "../backing/backing.js";
import type { DeadLetterEntry, DeadLetterKeeper } from "../backing/dead-letter.js";
import type { JourneyRecorder } from "../backing/journey.js";
import type { TailFeed } from "../backing/tail-feed.js";
import { Broker } from "../broker/broker.js";
import type { EventTypeGate } from "../broker/event-type-gate.js";
import {
  compileTriggerFilter,
  type TriggerConfig,
  type TriggerDeps,
  TriggerRuntime,
} from "../broker/trigger.js";
import { CHANNEL_KINDS, ChannelRuntime } from "../channels/channel.js";
import {
  expandParallel,
  expandSequence,
  parallelIngressChannelName,
  sequenceChannelName,
} from "../channels/flows.js";
import { type SubscriptionConfig, SubscriptionRuntime } from "../channels/subscription.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import { DEFAULT_DELIVERY, type DeliveryOptions } from "../delivery/options.js";
import { DeliveryPaces } from "../delivery/pace.js";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type {
  DataPlane,
  ExchangeTarget,
  FlowKind,
  IngressTarget,
  SinkTarget,
  WebhookTarget,
} from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { ReplayTarget } from "../operations/replay.js";
import { resolveDestination, type TargetExists } from "../resources/addresses.js";
import {
  brokerBacking,
  channelKindBacking,
  holdsYaml,
  type ParseYaml,
  triggerBroker,
} from "../resources/broker-config.js";
import { DEFAULT_CHANNEL_TEMPLATE } from "../resources/defaults.js";
import { secretData } from "../resources/secrets.js";
import { type ServiceFlags, type ServiceLookup, serviceLookup } from "../resources/services.js";
import type { ResourceStore } from "../resources/store.js";
import type {
  BrokerSpec,
  ChannelSpec,
  Destination,
  EventTransformResource,
  ParallelResource,
  RequestReplyResource,
  Resource,
  SecretResource,
  SequenceResource,
  SubscriptionSpec,
  TriggerSpec,
} from "../resources/types.js";
import { EventTransformSet } from "../sinks/event-transform-set.js";
import { RequestReplySet, requestsByBroker } from "../sinks/request-reply-set.js";
import type { TriggerFilterSpec } from "../triggers/filter.js";
import { BackingPool } from "./backing-pool.js";
import { ConsumerSet, consumerMode } from "./consumer-set.js";
import {
  type DeliverySpec,
  paceKey,
  resolveDelivery,
  SINGLE_ATTEMPT,
  withFlowControl,
} from "./delivery-spec.js";
import { IngressSet, RETENTION_ANNOTATION, type Running } from "./ingress-set.js";
import type { StatusFacts } from "./resource-status.js";
import { type RuntimeParts, runStateOf } from "./run-state.js";
import { SinkSet } from "./sink-set.js";
import { SourceSet } from "./source-set.js";
import type { StatusSource } from "./status-book.js";

export interface ReconcilerDeps {
  readonly store: ResourceStore;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly createBacking: (config: BackingConfig) => Promise<Backing>;
  /** Grace period for in-flight deliveries when a trigger or broker goes away. */
  readonly drainMs?: number;
  /** `eventail run --service NS/NAME=URL` mappings (CONTRACT §2). */
  readonly services?: ServiceFlags;
  /** Journeys (CONTRACT §11): brokers, channels, triggers and subscriptions report to it. */
  readonly journeys?: JourneyRecorder;
  /** Called after every reconcile (the StatusBook records what changed). */
  readonly onReconciled?: () => void;
  /** The live tail (CONTRACT §11): brokers, channels and their consumers publish to it. */
  readonly tail?: TailFeed;
  /** The dead-letter store (CONTRACT §11): triggers keep the events they give up on there. */
  readonly deadLetters?: DeadLetterKeeper;
  /** The EventType registry (CONTRACT §11): brokers check schemas with it and report to it. */
  readonly eventTypes?: EventTypeGate;
  /** Whether a Broker's EventPolicies let a Trigger's replies in (TriggerDeps.authorizeReply). */
  readonly authorizeReply?: TriggerDeps["authorizeReply"];
  /** Whether sources that emit by themselves run here (default true; see setSelfEmittingSources). */
  readonly selfEmittingSources?: boolean;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

const ingressKeys = new Map<string, Map<string, string>>();
let ingressKeyCount = 0;

/**
 * `key` for the ingress lookups made per request: the same few (namespace, name) pairs, whose
 * concatenation would be a new string to flatten and hash on every request. Bounded against
 * clients that post to names without end.
 */
function ingressKey(namespace: string, name: string): string {
  // Longer than Kubernetes allows: no resource has it, and a client's 8 KB names must not be kept.
  if (namespace.length > 63 || name.length > 253) return key(namespace, name);
  let names = ingressKeys.get(namespace);
  if (names === undefined) {
    names = new Map();
    ingressKeys.set(namespace, names);
  }
  let found = names.get(name);
  if (found === undefined) {
    if (ingressKeyCount >= 10_000) {
      ingressKeys.clear();
      ingressKeyCount = 0;
      names = new Map();
      ingressKeys.set(namespace, names);
    }
    found = key(namespace, name);
    names.set(name, found);
    ingressKeyCount++;
  }
  return found;
}

function byKey(resources: readonly Resource[]): Map<string, Resource> {
  return new Map(resources.map((r) => [key(r.metadata.namespace, r.metadata.name), r]));
}

/** The running brokers (or channels) whose resource is no longer wanted at all. */
function deleted<T extends Broker | ChannelRuntime>(
  set: IngressSet<T>,
  desired: ReadonlyMap<string, Resource>,
): T[] {
  return [...set.running].filter(([name]) => !desired.has(name)).map(([, r]) => r.target);
}

/**
 * Turns the resources in the store into running brokers, channels, triggers, subscriptions, sinks
 * and sources, and keeps them in step as the store changes (hot reload). It is also the DataPlane
 * the HTTP routes ask. Reconciles run one at a time; what cannot start (an engine that is down) is
 * retried with backoff.
 */
export class Reconciler implements DataPlane {
  private readonly pool: BackingPool;
  private readonly brokers: IngressSet<Broker>;
  private readonly channels: IngressSet<ChannelRuntime>;
  private readonly triggers: ConsumerSet<TriggerConfig, Running<Broker>>;
  private readonly subscriptions: ConsumerSet<SubscriptionConfig, Running<ChannelRuntime>>;
  private readonly sources: SourceSet;
  private readonly sinks: SinkSet;
  private readonly transforms: EventTransformSet;
  private readonly requestReplies: RequestReplySet;
  /** Channels and subscriptions that Sequences and Parallels stand for. */
  private synthetic: Resource[] = [];
  /** `kind/namespace/name` of each synthetic resource. */
  private syntheticKeys = new Set<string>();
  /** Per broker `namespace/name`: which of its events are RequestReply requests (held open). */
  private requests: ReturnType<typeof requestsByBroker> = new Map();
  /** `eventail.io/delivery.rate` paces, kept across reconciles (see DeliveryPaces). */
  private readonly paces = new DeliveryPaces();
  private queue: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 500;
  private initialized = false;
  /** start() was called: changes from now on are reconciled. */
  private started = false;
  /** False while something could not start; /readyz says so. */
  private complete = false;
  private accepting = true;
  private baseUrl = "http://127.0.0.1:8080";
  /** Loaded on first sight of a ConfigMap holding YAML text (Knative's broker configs). */
  private parseYaml?: ParseYaml;
  /** Where refs to Services go: the --service flags, then ConfigMaps eventail-services. */
  private readonly services: ServiceLookup;

  constructor(private readonly deps: ReconcilerDeps) {
    const { logger } = deps;
    const drainMs = deps.drainMs ?? 10_000;
    this.services = serviceLookup(deps.services, this.configMapData);
    this.pool = new BackingPool(deps.createBacking, logger);
    this.brokers = new IngressSet({
      what: "broker",
      pool: this.pool,
      logger,
      backingOf: (resource) => this.brokerBacking(resource),
      create: (r, backing, limit) =>
        new Broker(
          r.metadata.namespace,
          r.metadata.name,
          backing,
          limit,
          deps.journeys,
          deps.tail,
          deps.eventTypes,
        ),
    });
    this.channels = new IngressSet({
      what: "channel",
      pool: this.pool,
      logger,
      backingOf: (resource) => this.channelBacking(resource),
      create: (r, backing, limit) =>
        new ChannelRuntime(
          r.metadata.namespace,
          r.metadata.name,
          backing,
          limit,
          deps.journeys,
          deps.tail,
        ),
    });
    this.triggers = new ConsumerSet({
      what: "trigger",
      parentKind: "broker",
      logger,
      drainMs,
      parentOf: (r) => {
        const broker = triggerBroker(r as Resource<TriggerSpec>);
        return this.brokers.get(key(broker.namespace, broker.name));
      },
      identity: (parent) => parent.target,
      streamOf: (parent) => parent.target.stream,
      configOf: (r, broker) => this.triggerConfig(r, broker),
      create: (broker, config) => new TriggerRuntime(deps, broker.target, config),
    });
    this.subscriptions = new ConsumerSet({
      what: "subscription",
      parentKind: "channel",
      logger,
      drainMs,
      parentOf: (r) => {
        const ref = (r.spec as SubscriptionSpec).channel;
        return this.channels.get(key(ref.namespace ?? r.metadata.namespace, ref.name));
      },
      identity: (parent) => parent.target,
      streamOf: (parent) => parent.target.stream,
      configOf: (r, channel) => this.subscriptionConfig(r, channel),
      create: (channel, config) => new SubscriptionRuntime(deps, channel.target, config),
    });
    this.sources = new SourceSet({ ...deps, services: this.services, exists: this.exists });
    this.sinks = new SinkSet(deps);
    this.transforms = new EventTransformSet(deps);
    this.requestReplies = new RequestReplySet(deps);
  }

  /** Starts following the store; resolves after the first full reconcile. */
  async start(baseUrl: string): Promise<void> {
    this.started = true;
    this.baseUrl = baseUrl;
    this.deps.store.on("changes", () => {
      void this.reconcile();
    });
    await this.reconcile();
    this.initialized = true;
  }

  /** Runs one reconcile after any already queued; reconciles never overlap. */
  reconcile(): Promise<void> {
    this.queue = this.queue.then(
      () => this.reconcileOnce(),
      () => this.reconcileOnce(),
    );
    return this.queue.catch((error) => {
      this.deps.logger.error({ err: error }, "reconcile failed");
    });
  }

  /**
   * Whether sources that emit by themselves (PingSource, ApiServerSource, ContainerSource,
   * IntegrationSource) and those holding an MQTT session (MqttSource, MQTT MessageQueueTrigger)
   * run in this process: of several replicas only the leader runs them. Off
   * stops them at once; on starts them with the reconcile it queues (before start(), with the
   * first one).
   */
  async setSelfEmittingSources(allowed: boolean): Promise<void> {
    await this.sources.allowSelfEmitting(allowed);
    if (this.started) await this.reconcile();
  }

  /** Resolves when every reconcile queued so far has run (store changes queue one each). */
  idle(): Promise<void> {
    return this.queue.catch(() => undefined);
  }

  isAccepting(): boolean {
    return this.accepting;
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  /**
   * A dead letter's redrive (CONTRACT §11): through its trigger (or subscription) as it runs now,
   * to its current subscriber or to `to` (a Destination). When it does not run in this process
   * (deleted since, or not served here), an entry with `to` is delivered there directly; without
   * `to` the redrive of that entry fails.
   */
  async redriveDeadLetter(
    namespace: string,
    entry: DeadLetterEntry,
    to?: unknown,
  ): Promise<boolean> {
    const url = to === undefined ? undefined : this.resolve(to as Destination, namespace);
    const what = entry.kind === "Subscription" ? "subscription" : "trigger";
    const consumer =
      entry.kind === "Subscription"
        ? this.subscriptions.consumerOf(key(namespace, entry.name))
        : this.triggers.consumerOf(key(namespace, entry.name));
    if (consumer instanceof SubscriptionRuntime) {
      return consumer.redrive(entry.event, entry.step, url);
    }
    if (consumer instanceof TriggerRuntime) return consumer.redrive(entry.event, url);
    if (url !== undefined) return this.redriveDirectly(namespace, entry, url, what);
    this.deps.logger.warn(
      { namespace, [what]: entry.name, entryId: entry.entryId },
      `dead letter not redriven: its ${what} does not run here (give 'to' to deliver elsewhere)`,
    );
    return false;
  }

  /**
   * A redrive to `url` with no trigger or subscription to take delivery rules from: one attempt
   * under the defaults otherwise (a failure leaves the entry for the next redrive, rather than
   * holding the request through minutes of default retries), and a reply has nowhere to go.
   */
  private async redriveDirectly(
    namespace: string,
    entry: DeadLetterEntry,
    url: string,
    kind: "trigger" | "subscription",
  ): Promise<boolean> {
    const outcome = await this.deps.dispatcher.deliver(
      entry.event,
      url,
      { ...DEFAULT_DELIVERY, retry: 0 },
      { namespace, kind, name: entry.name },
      { failureHandled: true },
    );
    if (outcome.kind === "replied") {
      this.deps.metrics.droppedEvents.inc({ namespace, reason: "no-reply-destination" });
      this.deps.logger.info(
        { ...eventLogFields(outcome.reply), namespace, [kind]: entry.name },
        `redrive's reply dropped: its ${kind} does not run here`,
      );
    }
    return outcome.kind === "delivered" || outcome.kind === "replied";
  }

  /**
   * One attempt to `url` under the default delivery options (a `fromBroker` redrive: the event
   * no longer says which trigger's rules would apply); a reply has nowhere to go.
   */
  async sendOnce(namespace: string, event: CloudEvent, url: string, via: string): Promise<boolean> {
    const outcome = await this.deps.dispatcher.deliver(
      event,
      url,
      { ...DEFAULT_DELIVERY, retry: 0 },
      { namespace, kind: "trigger", name: via },
      { failureHandled: true },
    );
    if (outcome.kind === "replied") {
      this.deps.metrics.droppedEvents.inc({ namespace, reason: "no-reply-destination" });
    }
    return outcome.kind === "delivered" || outcome.kind === "replied";
  }

  /**
   * Whether a running Trigger or Subscription of `namespace` delivers to `url`: its subscriber,
   * or the `spec.reply` of a subscription without one (its events themselves go there). The
   * `spec.reply` of a subscription with a subscriber does not count: a dead letter naming it is
   * the event that subscriber got, whose reply failed (Knative dead-letters the original), and
   * the reply destination must not be handed it.
   */
  deliversTo(namespace: string, url: string): boolean {
    for (const consumer of this.triggers.all()) {
      const config = consumer.currentConfig;
      if (config.namespace === namespace && config.subscriberUrl === url) return true;
    }
    for (const consumer of this.subscriptions.all()) {
      const config = consumer.currentConfig;
      if (config.namespace !== namespace) continue;
      if (config.subscriberUrl === url) return true;
      if (config.subscriberUrl === undefined && config.replyUrl === url) return true;
    }
    return false;
  }

  broker(namespace: string, name: string): IngressTarget | undefined {
    return this.brokers.get(ingressKey(namespace, name))?.target;
  }

  /** A running broker as replay (CONTRACT §11) sees it: its archive and its triggers. */
  replayTarget(namespace: string, name: string): ReplayTarget | undefined {
    const running = this.brokers.get(key(namespace, name));
    if (running === undefined) return undefined;
    const broker = running.target;
    const resource = this.deps.store.get("Broker", namespace, name);
    const triggers = this.triggers
      .consumersOf(broker)
      .filter((consumer): consumer is TriggerRuntime => consumer instanceof TriggerRuntime);
    return {
      stream: broker.stream,
      retained: resource?.metadata.annotations?.[RETENTION_ANNOTATION] !== undefined,
      ...(running.backing.archive ? { archive: running.backing.archive } : {}),
      ...(running.backing.replays ? { store: running.backing.replays } : {}),
      triggers,
    };
  }

  /** The replay stores of the backings brokers run on (each once). */
  replayStores(): ReplayStore[] {
    const stores = new Set<ReplayStore>();
    for (const { backing } of this.brokers.running.values()) {
      if (backing.replays) stores.add(backing.replays);
    }
    return [...stores];
  }

  channel(namespace: string, name: string): IngressTarget | undefined {
    return this.channels.get(ingressKey(namespace, name))?.target;
  }

  flow(namespace: string, kind: FlowKind, name: string): IngressTarget | undefined {
    const flowKind = kind === "sequences" ? "Sequence" : "Parallel";
    if (!this.deps.store.get(flowKind, namespace, name)) return undefined;
    const channel =
      kind === "sequences" ? sequenceChannelName(name, 0) : parallelIngressChannelName(name);
    return this.channel(namespace, channel);
  }

  sink(namespace: string, name: string): SinkTarget | undefined {
    return this.sinks.get(namespace, name);
  }

  webhook(namespace: string, name: string): WebhookTarget | undefined {
    return this.sources.webhook(namespace, name);
  }

  transform(namespace: string, name: string): ExchangeTarget | undefined {
    return this.transforms.get(namespace, name);
  }

  requestReply(namespace: string, name: string): ExchangeTarget | undefined {
    return this.requestReplies.get(namespace, name);
  }

  async readiness(): Promise<Record<string, boolean>> {
    return {
      reconciled: this.initialized && this.complete,
      ...(await this.pool.readiness()),
      ...this.sources.readiness(),
    };
  }

  /**
   * Stops sources, drains triggers and subscriptions, runs `beforeBackingsClose` (what must still
   * write to an engine, such as the EventType registry's last flush), closes backings.
   */
  async close(
    graceMs = this.deps.drainMs ?? 10_000,
    beforeBackingsClose: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    this.accepting = false;
    clearTimeout(this.retryTimer);
    await this.queue.catch(() => undefined);
    await this.sources.stopAll();
    await Promise.all([this.triggers.stopAll(graceMs), this.subscriptions.stopAll(graceMs)]);
    // After the triggers: they may still be delivering to this process's own sinks.
    await this.sinks.stopAll();
    // While the triggers drained, replies could still reach waiting requests.
    await this.requestReplies.stopAll();
    this.brokers.clear();
    this.channels.clear();
    await beforeBackingsClose().catch((error: unknown) =>
      this.deps.logger.warn({ err: error }, "writing to the engine before closing failed"),
    );
    await this.pool.closeAll();
  }

  /** The resources of a kind: from the store, plus those flows stand for. */
  private list(kind: string): Resource[] {
    const stored = this.deps.store.list(kind) as Resource[];
    const derived = this.synthetic.filter((r) => r.kind === kind);
    return derived.length === 0 ? stored : [...stored, ...derived];
  }

  private async reconcileOnce(): Promise<void> {
    const { store } = this.deps;
    if (holdsYaml(store.list("ConfigMap"))) this.parseYaml ??= (await import("yaml")).parse;
    this.synthetic = [
      ...store.list("Sequence").flatMap((s) => expandSequence(s as SequenceResource)),
      ...store.list("Parallel").flatMap((p) => expandParallel(p as ParallelResource)),
    ];
    this.syntheticKeys = new Set(
      this.synthetic.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`),
    );
    this.requests = requestsByBroker(this.list("RequestReply") as RequestReplyResource[]);
    const sinksComplete = await this.sinks.reconcile();
    const channelKinds = ["Channel", ...Object.keys(CHANNEL_KINDS)];
    const brokers = byKey(this.list("Broker"));
    const channels = byKey(channelKinds.flatMap((kind) => this.list(kind)));
    const deletedBrokers = deleted(this.brokers, brokers);
    const deletedChannels = deleted(this.channels, channels);
    const triggers = this.list("Trigger");
    const subscriptions = this.list("Subscription");
    const results = [
      await this.brokers.reconcile(brokers),
      await this.channels.reconcile(channels),
      await this.triggers.reconcile(byKey(triggers), new Set(deletedBrokers)),
      await this.subscriptions.reconcile(byKey(subscriptions), new Set(deletedChannels)),
      await this.sources.reconcile(this.baseUrl),
      sinksComplete,
      await this.transforms.reconcile(
        this.list("EventTransform") as EventTransformResource[],
        this.resolve,
      ),
      await this.requestReplies.reconcile(this.list("RequestReply") as RequestReplyResource[], {
        broker: (namespace, name) => this.brokers.get(key(namespace, name))?.target,
        declared: (namespace, name) => this.exists("Broker", namespace, name),
        secret: (namespace, name) =>
          this.deps.store.get("Secret", namespace, name) as SecretResource | undefined,
        baseUrl: this.baseUrl,
      }),
    ];
    this.paces.keepOnly(new Set([...triggers, ...subscriptions].map(paceKey)));
    // Before closeUnused: a deleted broker may have been the last user of its backing.
    for (const target of [...deletedBrokers, ...deletedChannels]) await this.removeStream(target);
    await this.pool.closeUnused(
      new Set([...this.brokers.backingKeys(), ...this.channels.backingKeys()]),
    );
    this.releaseHolds();
    this.complete = results.every(Boolean);
    this.scheduleRetry(this.complete);
    this.deps.onReconciled?.();
  }

  /** What the StatusBook reads: every resource, and the runtime's facts about each. */
  statusSource(address: StatusFacts["address"]): StatusSource {
    const find = (kind: string, namespace: string, name: string) =>
      this.deps.store.get(kind, namespace, name) ??
      this.synthetic.find(
        (r) => r.kind === kind && r.metadata.namespace === namespace && r.metadata.name === name,
      );
    return {
      facts: {
        find,
        resolve: (destination, namespace) =>
          resolveDestination(destination, namespace, this.baseUrl, this.services),
        address,
        run: (resource) => runStateOf(this.runtimeParts(), resource),
      },
      resources: () => [...this.deps.store.all(), ...this.synthetic],
      derivedOf: (flow) =>
        flow.kind === "Sequence"
          ? expandSequence(flow as SequenceResource)
          : expandParallel(flow as ParallelResource),
    };
  }

  private runtimeParts(): RuntimeParts {
    return {
      brokers: this.brokers,
      channels: this.channels,
      triggers: this.triggers,
      subscriptions: this.subscriptions,
      sources: this.sources,
      sinks: this.sinks,
      exchange: (kind, namespace, name) =>
        kind === "EventTransform"
          ? this.transforms.get(namespace, name) !== undefined
          : this.requestReplies.get(namespace, name) !== undefined,
    };
  }

  /**
   * A deleted broker or channel takes its stream along, as Knative deletes a broker's topic;
   * its triggers' consumers went first (ConsumerSet). An engine that cannot be reached keeps it.
   */
  private async removeStream(target: Broker | ChannelRuntime): Promise<void> {
    try {
      await target.backing.removeStream(target.stream);
      this.deps.logger.info({ stream: target.stream }, "deleted the stream of a deleted resource");
    } catch (error) {
      this.deps.logger.warn(
        { err: error, stream: target.stream },
        "could not delete the stream of a deleted resource",
      );
    }
  }

  /** Ingress opens once every consumer of the stream is subscribed (see Broker.hold). */
  private releaseHolds(): void {
    for (const { target } of this.brokers.running.values()) {
      target.hold = this.triggers.isWaiting(target)
        ? "a trigger of this broker is not subscribed yet (its backing is unavailable)"
        : undefined;
    }
    for (const { target } of this.channels.running.values()) {
      target.hold = this.subscriptions.isWaiting(target)
        ? "a subscription of this channel is not subscribed yet (its backing is unavailable)"
        : undefined;
    }
  }

  /** Whatever failed to start (an engine that is down) is tried again, backing off to 5 s. */
  private scheduleRetry(complete: boolean): void {
    if (complete) {
      this.retryDelayMs = 500;
      return;
    }
    if (this.retryTimer || !this.accepting) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5_000);
  }

  /**
   * A Broker's ConfigMap picks its backing (CONTRACT §5), Knative's shapes included; no config
   * means memory. Validation has refused every configuration that picks none; a ConfigMap not
   * among the resources throws MissingReferenceError (the broker waits for it).
   */
  private brokerBacking(broker: Resource): BackingConfig {
    const parseYaml: ParseYaml = (text) => {
      if (!this.parseYaml) throw new Error("a ConfigMap holds YAML text, but no parser is loaded");
      return this.parseYaml(text);
    };
    return brokerBacking(broker as Resource<BrokerSpec>, this.configMapData, parseYaml, {
      resource: (kind, namespace, name) => this.deps.store.get(kind, namespace, name),
      secret: (namespace, name) => {
        const secret = this.deps.store.get("Secret", namespace, name) as SecretResource | undefined;
        return secret ? secretData(secret) : undefined;
      },
    });
  }

  private channelBacking(resource: Resource): BackingConfig {
    const kind =
      resource.kind === "Channel"
        ? ((resource.spec as ChannelSpec | undefined)?.channelTemplate?.kind ??
          DEFAULT_CHANNEL_TEMPLATE.kind)
        : resource.kind;
    return channelKindBacking(kind, this.configMapData);
  }

  private readonly configMapData = (namespace: string, name: string) =>
    this.deps.store.get("ConfigMap", namespace, name)?.data;

  /** Refs resolve only to what is among the resources (flows' channels included). */
  private readonly exists: TargetExists = (kind, namespace, name) =>
    this.deps.store.get(kind, namespace, name) !== undefined ||
    this.syntheticKeys.has(`${kind}/${namespace}/${name}`);

  private readonly resolve = (destination: Destination, namespace: string) =>
    resolveDestination(destination, namespace, this.baseUrl, this.services, this.exists);

  /**
   * A Trigger's or Subscription's delivery, with its flow-control annotations; `absent` applies
   * when there is no spec.
   */
  private delivery(spec: DeliverySpec | undefined, resource: Resource, absent: DeliveryOptions) {
    const { namespace } = resource.metadata;
    return withFlowControl(
      resolveDelivery(spec, namespace, this.baseUrl, this.services, this.exists, absent),
      resource,
      this.paces,
    );
  }

  private triggerConfig(resource: Resource, broker: Running<Broker>): TriggerConfig {
    const spec = resource.spec as TriggerSpec;
    const namespace = resource.metadata.namespace;
    const awaited = this.requests.get(key(broker.target.namespace, broker.target.name));
    return {
      namespace,
      name: resource.metadata.name,
      filter: compileTriggerFilter(spec as TriggerFilterSpec),
      subscriberUrl: this.resolve(spec.subscriber, namespace),
      ...(awaited === undefined ? {} : { awaited }),
      // A Trigger's delivery replaces its Broker's as a whole; with neither, the Broker default
      // (Knative's config-br-defaults) applies.
      delivery: this.delivery(spec.delivery ?? broker.delivery, resource, DEFAULT_DELIVERY),
      ...consumerMode(resource),
    };
  }

  private subscriptionConfig(
    resource: Resource,
    channel: Running<ChannelRuntime>,
  ): SubscriptionConfig {
    const spec = resource.spec as SubscriptionSpec;
    const namespace = resource.metadata.namespace;
    return {
      namespace,
      name: resource.metadata.name,
      ...(spec.subscriber ? { subscriberUrl: this.resolve(spec.subscriber, namespace) } : {}),
      ...(spec.reply ? { replyUrl: this.resolve(spec.reply, namespace) } : {}),
      // A Subscription's delivery defaults from its channel's as a whole; with neither, Knative's
      // channel dispatcher makes one attempt.
      delivery: this.delivery(spec.delivery ?? channel.delivery, resource, SINGLE_ATTEMPT),
      ...consumerMode(resource),
    };
  }
}
