import { Broker } from "../broker/broker.js";
import type { Backing, BackingConfig } from "../channels/backing.js";
import { CHANNEL_KINDS, ChannelRuntime, channelBackingConfig } from "../channels/channel.js";
import {
  expandParallel,
  expandSequence,
  parallelIngressChannelName,
  sequenceChannelName,
} from "../channels/flows.js";
import { backingKey } from "../channels/registry.js";
import { type SubscriptionConfig, SubscriptionRuntime } from "../channels/subscription.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { resolveDestination } from "../resources/addresses.js";
import type { ResourceStore } from "../resources/store.js";
import type {
  ChannelSpec,
  Destination,
  ParallelResource,
  Resource,
  SequenceResource,
  SubscriptionSpec,
} from "../resources/types.js";
import {
  type DataPlane,
  DEFAULT_BODY_LIMIT,
  type FlowKind,
  type IngressTarget,
  type SinkTarget,
  type WebhookTarget,
} from "../server/data-plane.js";
import { LogSink } from "../sinks/log-sink.js";
import { SOURCE_KINDS } from "../sources/kinds.js";
import type { RunnableSource, SourceKind } from "../sources/registry.js";
import { dispatcherSink } from "../sources/source.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import { compileFilter, type TriggerFilterSpec } from "../triggers/filter.js";
import { type TriggerConfig, TriggerRuntime } from "../triggers/trigger.js";
import { type DeliverySpec, resolveDelivery } from "./delivery-spec.js";

export interface ReconcilerDeps {
  readonly store: ResourceStore;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly createBacking: (config: BackingConfig) => Promise<Backing>;
  /** Grace period for in-flight deliveries when a trigger or broker goes away. */
  readonly drainMs?: number;
}

const ORDER_ANNOTATION = "eventail.io/delivery.order";
const CONCURRENCY_ANNOTATION = "eventail.io/delivery.concurrency";
const BODY_LIMIT_ANNOTATION = "eventail.io/ingress.max-body-bytes";
const DEFAULT_CONCURRENCY = 64;

interface RunningBroker {
  readonly broker: Broker;
  readonly backingKey: string;
  readonly delivery?: DeliverySpec;
}

interface RunningChannel {
  readonly channel: ChannelRuntime;
  readonly backingKey: string;
  readonly delivery?: DeliverySpec;
}

interface RunningSource {
  readonly source: RunnableSource;
  readonly webhook?: WebhookTarget;
  readonly fingerprint: string;
  readonly abort: AbortController;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/**
 * Turns the resources in the store into running brokers, triggers, sinks and sources, and keeps
 * them in step as the store changes (hot reload). It is also the DataPlane the HTTP routes ask.
 */
export class Reconciler implements DataPlane {
  private readonly brokers = new Map<string, RunningBroker>();
  private readonly triggers = new Map<string, TriggerRuntime>();
  private readonly channels = new Map<string, RunningChannel>();
  private readonly subscriptions = new Map<string, SubscriptionRuntime>();
  /** Channels and subscriptions that Sequences and Parallels stand for. */
  private synthetic: Resource[] = [];
  private readonly sinks = new Map<string, SinkTarget>();
  private readonly sources = new Map<string, RunningSource>();
  private readonly backings = new Map<string, Promise<Backing>>();
  private queue: Promise<void> = Promise.resolve();
  /** Set when something could not start (engine down): a retry reconcile is scheduled. */
  private incomplete = false;
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 500;
  private initialized = false;
  private accepting = true;
  private baseUrl = "http://127.0.0.1:8080";

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Starts following the store; resolves after the first full reconcile. */
  async start(baseUrl: string): Promise<void> {
    this.baseUrl = baseUrl;
    this.deps.store.on("change", () => {
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

  isAccepting(): boolean {
    return this.accepting;
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  broker(namespace: string, name: string): IngressTarget | undefined {
    return this.brokers.get(key(namespace, name))?.broker;
  }

  channel(namespace: string, name: string): IngressTarget | undefined {
    return this.channels.get(key(namespace, name))?.channel;
  }

  flow(namespace: string, kind: FlowKind, name: string): IngressTarget | undefined {
    const exists = this.deps.store.get(
      kind === "sequences" ? "Sequence" : "Parallel",
      namespace,
      name,
    );
    if (!exists) return undefined;
    const channel =
      kind === "sequences" ? sequenceChannelName(name, 0) : parallelIngressChannelName(name);
    return this.channel(namespace, channel);
  }

  sink(namespace: string, name: string): SinkTarget | undefined {
    return this.sinks.get(key(namespace, name));
  }

  webhook(namespace: string, name: string): WebhookTarget | undefined {
    for (const running of this.sources.values()) {
      const webhook = running.webhook;
      if (webhook && webhook.namespace === namespace && webhook.name === name) return webhook;
    }
    return undefined;
  }

  async readiness(): Promise<Record<string, boolean>> {
    const checks: Record<string, boolean> = { reconciled: this.initialized };
    for (const [name, backing] of this.backings) {
      checks[`backing:${name}`] = await backing.then(
        (b) => withTimeout(b.ready(), 2_000, false),
        () => false,
      );
    }
    return checks;
  }

  /** Stops sources, drains triggers, closes backings. */
  async close(graceMs = this.deps.drainMs ?? 10_000): Promise<void> {
    this.accepting = false;
    clearTimeout(this.retryTimer);
    await this.queue.catch(() => undefined);
    await Promise.all([...this.sources.values()].map((s) => stopSource(s)));
    this.sources.clear();
    await Promise.all(
      [...this.triggers.values(), ...this.subscriptions.values()].map((t) => t.stop(graceMs)),
    );
    this.triggers.clear();
    this.subscriptions.clear();
    this.channels.clear();
    this.brokers.clear();
    const backings = [...this.backings.values()];
    this.backings.clear();
    await Promise.all(backings.map((b) => b.then((x) => x.close()).catch(() => undefined)));
  }

  /** The resources of a kind: from the store, plus those flows stand for. */
  private list(kind: string): Resource[] {
    const stored = this.deps.store.list(kind) as Resource[];
    const derived = this.synthetic.filter((r) => r.kind === kind);
    return derived.length === 0 ? stored : [...stored, ...derived];
  }

  private async reconcileOnce(): Promise<void> {
    this.incomplete = false;
    this.synthetic = [
      ...this.deps.store.list("Sequence").flatMap((s) => expandSequence(s as SequenceResource)),
      ...this.deps.store.list("Parallel").flatMap((p) => expandParallel(p as ParallelResource)),
    ];
    await this.reconcileSinks();
    await this.reconcileBrokers();
    await this.reconcileChannels();
    await this.reconcileTriggers();
    await this.reconcileSubscriptions();
    await this.reconcileSources();
    await this.releaseUnusedBackings();
    this.scheduleRetry();
  }

  /** Whatever failed to start (an engine that is down) is tried again, backing off to 10 s. */
  private scheduleRetry(): void {
    if (!this.incomplete) {
      this.retryDelayMs = 500;
      return;
    }
    if (this.retryTimer || !this.accepting) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.reconcile();
    }, this.retryDelayMs);
    this.retryTimer.unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 10_000);
  }

  private async reconcileSinks(): Promise<void> {
    const desired = new Map<string, Resource>();
    for (const sink of this.deps.store.list("IntegrationSink")) {
      desired.set(key(sink.metadata.namespace, sink.metadata.name), sink);
    }
    for (const name of this.sinks.keys()) if (!desired.has(name)) this.sinks.delete(name);
    for (const [name, resource] of desired) {
      if (!this.sinks.has(name)) {
        this.sinks.set(name, new LogSink(resource.metadata.namespace, resource.metadata.name));
      }
    }
  }

  private backingConfigOf(broker: Resource): BackingConfig {
    const ref = (broker.spec as { config?: { name: string; namespace?: string } } | undefined)
      ?.config;
    if (!ref) return { kind: "memory", settings: {} };
    const configMap = this.deps.store.get(
      "ConfigMap",
      ref.namespace ?? broker.metadata.namespace,
      ref.name,
    );
    const data = { ...((configMap?.data as Record<string, string> | undefined) ?? {}) };
    const kind = (data["backing"] ?? "memory") as BackingConfig["kind"];
    delete data["backing"];
    return { kind, settings: kind === "memory" ? {} : data };
  }

  private acquireBacking(config: BackingConfig): { key: string; backing: Promise<Backing> } {
    const id = backingKey(config);
    let backing = this.backings.get(id);
    if (!backing) {
      backing = this.deps.createBacking(config);
      this.backings.set(id, backing);
      backing.catch((error) => {
        this.deps.logger.error({ err: error, backing: id }, "backing failed to start");
        this.backings.delete(id);
      });
    }
    return { key: id, backing };
  }

  private async reconcileBrokers(): Promise<void> {
    const desired = new Map<string, Resource>();
    for (const broker of this.deps.store.list("Broker")) {
      desired.set(key(broker.metadata.namespace, broker.metadata.name), broker);
    }
    for (const [name, running] of this.brokers) {
      const resource = desired.get(name);
      if (!resource || backingKey(this.backingConfigOf(resource)) !== running.backingKey) {
        await this.removeBroker(name);
      }
    }
    for (const [name, resource] of desired) {
      const config = this.backingConfigOf(resource);
      const existing = this.brokers.get(name);
      const spec = (resource.spec ?? {}) as { delivery?: DeliverySpec };
      const bodyLimit = Number(
        resource.metadata.annotations?.[BODY_LIMIT_ANNOTATION] ?? DEFAULT_BODY_LIMIT,
      );
      if (existing) {
        existing.broker.bodyLimit = bodyLimit;
        this.brokers.set(name, {
          broker: existing.broker,
          backingKey: existing.backingKey,
          ...(spec.delivery ? { delivery: spec.delivery } : {}),
        });
        continue;
      }
      try {
        const { key: id, backing } = this.acquireBacking(config);
        const broker = new Broker(
          resource.metadata.namespace,
          resource.metadata.name,
          await backing,
          bodyLimit,
        );
        this.brokers.set(name, {
          broker,
          backingKey: id,
          ...(spec.delivery ? { delivery: spec.delivery } : {}),
        });
        this.deps.logger.info({ broker: name, backing: config.kind }, "broker ready");
      } catch (error) {
        this.deps.logger.error({ err: error, broker: name }, "broker could not start");
        this.incomplete = true;
      }
    }
  }

  private async removeBroker(name: string): Promise<void> {
    const running = this.brokers.get(name);
    if (!running) return;
    this.brokers.delete(name);
    for (const [triggerName, trigger] of this.triggers) {
      if (trigger.broker === running.broker) {
        this.triggers.delete(triggerName);
        await trigger.stop(this.deps.drainMs ?? 10_000);
      }
    }
  }

  private triggerConfig(resource: Resource, broker: RunningBroker): TriggerConfig {
    const spec = resource.spec as TriggerFilterSpec & {
      subscriber: Parameters<typeof resolveDestination>[0];
      delivery?: DeliverySpec;
    };
    const namespace = resource.metadata.namespace;
    const annotations = resource.metadata.annotations ?? {};
    return {
      namespace,
      name: resource.metadata.name,
      filter: compileFilter(spec, compileCesqlPredicate),
      subscriberUrl: resolveDestination(spec.subscriber, namespace, this.baseUrl),
      // A Trigger's delivery replaces its Broker's as a whole.
      delivery: resolveDelivery(spec.delivery ?? broker.delivery, namespace, this.baseUrl),
      ordered: annotations[ORDER_ANNOTATION] === "ordered",
      concurrency: Math.max(1, Number(annotations[CONCURRENCY_ANNOTATION] ?? DEFAULT_CONCURRENCY)),
    };
  }

  private async reconcileTriggers(): Promise<void> {
    const desired = new Map<string, Resource>();
    for (const trigger of this.deps.store.list("Trigger")) {
      desired.set(key(trigger.metadata.namespace, trigger.metadata.name), trigger);
    }
    for (const [name, running] of this.triggers) {
      const resource = desired.get(name);
      const brokerName = resource
        ? key(resource.metadata.namespace, (resource.spec as { broker: string }).broker)
        : undefined;
      if (!resource || this.brokers.get(brokerName!)?.broker !== running.broker) {
        this.triggers.delete(name);
        await running.stop(this.deps.drainMs ?? 10_000);
      }
    }
    for (const [name, resource] of desired) {
      const brokerName = key(
        resource.metadata.namespace,
        (resource.spec as { broker: string }).broker,
      );
      const broker = this.brokers.get(brokerName);
      if (!broker) {
        this.deps.logger.warn(
          { trigger: name, broker: brokerName },
          "trigger waits for its broker",
        );
        continue;
      }
      let config: TriggerConfig;
      try {
        config = this.triggerConfig(resource, broker);
      } catch (error) {
        this.deps.logger.error({ err: error, trigger: name }, "trigger is invalid");
        continue;
      }
      const running = this.triggers.get(name);
      if (running?.update(config)) continue;
      if (running) {
        this.triggers.delete(name);
        await running.stop(this.deps.drainMs ?? 10_000);
      }
      const trigger = new TriggerRuntime(this.deps, broker.broker, config);
      try {
        await trigger.start();
        this.triggers.set(name, trigger);
      } catch (error) {
        this.deps.logger.error({ err: error, trigger: name }, "trigger could not subscribe");
        this.incomplete = true;
      }
    }
  }

  private channelResources(): Map<string, Resource> {
    const desired = new Map<string, Resource>();
    for (const kind of ["Channel", ...Object.keys(CHANNEL_KINDS)]) {
      for (const channel of this.list(kind)) {
        desired.set(key(channel.metadata.namespace, channel.metadata.name), channel);
      }
    }
    return desired;
  }

  private channelBacking(resource: Resource): BackingConfig {
    const kind =
      resource.kind === "Channel"
        ? ((resource.spec as ChannelSpec | undefined)?.channelTemplate?.kind ?? "InMemoryChannel")
        : resource.kind;
    return channelBackingConfig(kind);
  }

  private async reconcileChannels(): Promise<void> {
    const desired = this.channelResources();
    for (const [name, running] of this.channels) {
      const resource = desired.get(name);
      if (!resource || backingKey(this.channelBacking(resource)) !== running.backingKey) {
        this.channels.delete(name);
        for (const [subName, sub] of this.subscriptions) {
          if (sub.channel !== running.channel) continue;
          this.subscriptions.delete(subName);
          await sub.stop(this.deps.drainMs ?? 10_000);
        }
      }
    }
    for (const [name, resource] of desired) {
      const spec = (resource.spec ?? {}) as { delivery?: DeliverySpec };
      const bodyLimit = Number(
        resource.metadata.annotations?.[BODY_LIMIT_ANNOTATION] ?? DEFAULT_BODY_LIMIT,
      );
      const existing = this.channels.get(name);
      if (existing) {
        existing.channel.bodyLimit = bodyLimit;
        this.channels.set(name, {
          channel: existing.channel,
          backingKey: existing.backingKey,
          ...(spec.delivery ? { delivery: spec.delivery } : {}),
        });
        continue;
      }
      const config = this.channelBacking(resource);
      try {
        const { key: id, backing } = this.acquireBacking(config);
        const channel = new ChannelRuntime(
          resource.metadata.namespace,
          resource.metadata.name,
          await backing,
          bodyLimit,
        );
        this.channels.set(name, {
          channel,
          backingKey: id,
          ...(spec.delivery ? { delivery: spec.delivery } : {}),
        });
      } catch (error) {
        this.deps.logger.error({ err: error, channel: name }, "channel could not start");
        this.incomplete = true;
      }
    }
  }

  private subscriptionConfig(resource: Resource, channel: RunningChannel): SubscriptionConfig {
    const spec = resource.spec as SubscriptionSpec;
    const namespace = resource.metadata.namespace;
    const annotations = resource.metadata.annotations ?? {};
    return {
      namespace,
      name: resource.metadata.name,
      ...(spec.subscriber
        ? { subscriberUrl: resolveDestination(spec.subscriber, namespace, this.baseUrl) }
        : {}),
      ...(spec.reply ? { replyUrl: resolveDestination(spec.reply, namespace, this.baseUrl) } : {}),
      // A Subscription's delivery defaults from its channel's as a whole.
      delivery: resolveDelivery(spec.delivery ?? channel.delivery, namespace, this.baseUrl),
      ordered: annotations[ORDER_ANNOTATION] === "ordered",
      concurrency: Math.max(1, Number(annotations[CONCURRENCY_ANNOTATION] ?? DEFAULT_CONCURRENCY)),
    };
  }

  private async reconcileSubscriptions(): Promise<void> {
    const desired = new Map<string, Resource>();
    for (const sub of this.list("Subscription")) {
      desired.set(key(sub.metadata.namespace, sub.metadata.name), sub);
    }
    const channelOf = (resource: Resource) => {
      const ref = (resource.spec as SubscriptionSpec).channel;
      return this.channels.get(key(ref.namespace ?? resource.metadata.namespace, ref.name));
    };
    for (const [name, running] of this.subscriptions) {
      const resource = desired.get(name);
      if (!resource || channelOf(resource)?.channel !== running.channel) {
        this.subscriptions.delete(name);
        await running.stop(this.deps.drainMs ?? 10_000);
      }
    }
    for (const [name, resource] of desired) {
      const channel = channelOf(resource);
      if (!channel) {
        this.deps.logger.warn({ subscription: name }, "subscription waits for its channel");
        continue;
      }
      let config: SubscriptionConfig;
      try {
        config = this.subscriptionConfig(resource, channel);
      } catch (error) {
        this.deps.logger.error({ err: error, subscription: name }, "subscription is invalid");
        continue;
      }
      const running = this.subscriptions.get(name);
      if (running?.update(config)) continue;
      if (running) {
        this.subscriptions.delete(name);
        await running.stop(this.deps.drainMs ?? 10_000);
      }
      const subscription = new SubscriptionRuntime(this.deps, channel.channel, config);
      try {
        await subscription.start();
        this.subscriptions.set(name, subscription);
      } catch (error) {
        this.deps.logger.error(
          { err: error, subscription: name },
          "subscription could not subscribe",
        );
        this.incomplete = true;
      }
    }
  }

  private async reconcileSources(): Promise<void> {
    const desired = new Map<string, { resource: Resource; kind: SourceKind }>();
    for (const kind of SOURCE_KINDS) {
      for (const resource of this.deps.store.list(kind.kind)) {
        desired.set(`${kind.kind}/${key(resource.metadata.namespace, resource.metadata.name)}`, {
          resource,
          kind,
        });
      }
    }
    for (const [name, running] of this.sources) {
      const wanted = desired.get(name);
      // Secrets can change a source's behaviour (tokens), so they are part of its fingerprint.
      if (!wanted || this.sourceFingerprint(wanted.resource) !== running.fingerprint) {
        this.sources.delete(name);
        await stopSource(running);
      }
    }
    for (const [name, { resource, kind }] of desired) {
      if (this.sources.has(name)) continue;
      try {
        await this.startSource(name, resource, kind);
      } catch (error) {
        this.deps.logger.error({ err: error, source: name }, "source could not start");
        this.incomplete = true;
      }
    }
  }

  private async startSource(id: string, resource: Resource, kind: SourceKind): Promise<void> {
    const namespace = resource.metadata.namespace;
    const name = resource.metadata.name;
    const spec = (resource.spec ?? {}) as { sink?: unknown; delivery?: unknown };
    const abort = new AbortController();
    const resolveDest = (destination: unknown) =>
      resolveDestination(destination as Destination, namespace, this.baseUrl);
    const resolveDeliverySpec = (delivery: unknown) =>
      resolveDelivery(delivery as DeliverySpec | undefined, namespace, this.baseUrl);
    const sinkUrl = spec.sink ? resolveDest(spec.sink) : undefined;
    const delivery = resolveDeliverySpec(spec.delivery);
    const source = kind.create(resource, {
      namespace,
      name,
      logger: this.deps.logger.child({ source: `${kind.kind}/${namespace}/${name}` }),
      metrics: this.deps.metrics,
      dispatcher: this.deps.dispatcher,
      ...(sinkUrl ? { sinkUrl } : {}),
      delivery,
      baseUrl: this.baseUrl,
      resolveDestination: resolveDest,
      resolveDelivery: resolveDeliverySpec,
      secretValue: (ns, secret, field) => this.secretValue(ns, secret, field),
      signal: abort.signal,
    });
    const sink = sinkUrl
      ? dispatcherSink(
          this.deps.dispatcher,
          sinkUrl,
          delivery,
          { namespace, trigger: `${kind.kind.toLowerCase()}/${name}` },
          abort.signal,
        )
      : async () => ({ kind: "dropped" as const, attempts: 0, reason: "no-sink" });
    await source.start(sink);
    this.sources.set(id, {
      source,
      fingerprint: this.sourceFingerprint(resource),
      abort,
      ...(source.webhook ? { webhook: source.webhook } : {}),
    });
  }

  private secretValue(namespace: string, name: string, field: string): string | undefined {
    const secret = this.deps.store.get("Secret", namespace, name) as
      | (Resource & { stringData?: Record<string, string> })
      | undefined;
    if (!secret) return undefined;
    const plain = secret.stringData?.[field];
    if (plain !== undefined) return plain;
    const encoded = secret.data?.[field];
    return encoded === undefined ? undefined : Buffer.from(encoded, "base64").toString("utf8");
  }

  private sourceFingerprint(resource: Resource): string {
    const secrets = this.deps.store
      .list("Secret")
      .filter((s: Resource) => s.metadata.namespace === resource.metadata.namespace)
      .map((s: Resource) => [
        s.metadata.name,
        s.data ?? {},
        (s as { stringData?: unknown }).stringData ?? {},
      ]);
    return JSON.stringify([
      resource.metadata.annotations ?? {},
      resource.spec ?? {},
      secrets,
      this.baseUrl,
    ]);
  }

  private async releaseUnusedBackings(): Promise<void> {
    const used = new Set(
      [...this.brokers.values(), ...this.channels.values()].map((b) => b.backingKey),
    );
    for (const [id, backing] of this.backings) {
      if (used.has(id)) continue;
      this.backings.delete(id);
      await backing.then((b) => b.close()).catch(() => undefined);
    }
  }
}

async function stopSource(running: RunningSource): Promise<void> {
  running.abort.abort();
  await running.source.stop();
}

function withTimeout<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}
