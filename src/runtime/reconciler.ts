import { Broker } from "../broker/broker.js";
import type { Backing, BackingConfig } from "../channels/backing.js";
import { backingKey } from "../channels/registry.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { resolveDestination } from "../resources/addresses.js";
import type { ResourceStore } from "../resources/store.js";
import type { Resource } from "../resources/types.js";
import {
  DEFAULT_BODY_LIMIT,
  type DataPlane,
  type FlowKind,
  type IngressTarget,
  type SinkTarget,
  type WebhookTarget,
} from "../server/data-plane.js";
import { LogSink } from "../sinks/log-sink.js";
import { PingSource, type PingSourceSpec } from "../sources/ping/ping-source.js";
import { dispatcherSink, type Source } from "../sources/source.js";
import { compileFilter, type TriggerFilterSpec } from "../triggers/filter.js";
import { type TriggerConfig, TriggerRuntime } from "../triggers/trigger.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
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

interface RunningSource {
  readonly source: Source;
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
  private readonly sinks = new Map<string, SinkTarget>();
  private readonly sources = new Map<string, RunningSource>();
  private readonly backings = new Map<string, Promise<Backing>>();
  private queue: Promise<void> = Promise.resolve();
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

  channel(): IngressTarget | undefined {
    return undefined;
  }

  flow(_namespace: string, _kind: FlowKind, _name: string): IngressTarget | undefined {
    return undefined;
  }

  sink(namespace: string, name: string): SinkTarget | undefined {
    return this.sinks.get(key(namespace, name));
  }

  webhook(): WebhookTarget | undefined {
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
    await this.queue.catch(() => undefined);
    await Promise.all([...this.sources.values()].map((s) => stopSource(s)));
    this.sources.clear();
    await Promise.all([...this.triggers.values()].map((t) => t.stop(graceMs)));
    this.triggers.clear();
    this.brokers.clear();
    const backings = [...this.backings.values()];
    this.backings.clear();
    await Promise.all(backings.map((b) => b.then((x) => x.close()).catch(() => undefined)));
  }

  private async reconcileOnce(): Promise<void> {
    await this.reconcileSinks();
    await this.reconcileBrokers();
    await this.reconcileTriggers();
    await this.reconcileSources();
    await this.releaseUnusedBackings();
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
      const brokerName = key(resource.metadata.namespace, (resource.spec as { broker: string }).broker);
      const broker = this.brokers.get(brokerName);
      if (!broker) {
        this.deps.logger.warn({ trigger: name, broker: brokerName }, "trigger waits for its broker");
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
      }
    }
  }

  private async reconcileSources(): Promise<void> {
    const desired = new Map<string, Resource>();
    for (const source of this.deps.store.list("PingSource")) {
      desired.set(`PingSource/${key(source.metadata.namespace, source.metadata.name)}`, source);
    }
    for (const [name, running] of this.sources) {
      const resource = desired.get(name);
      if (!resource || fingerprint(resource) !== running.fingerprint) {
        this.sources.delete(name);
        await stopSource(running);
      }
    }
    for (const [name, resource] of desired) {
      if (this.sources.has(name)) continue;
      const spec = resource.spec as PingSourceSpec & {
        sink: Parameters<typeof resolveDestination>[0];
        delivery?: DeliverySpec;
      };
      const namespace = resource.metadata.namespace;
      const abort = new AbortController();
      const source = new PingSource(namespace, resource.metadata.name, spec, this.deps.logger);
      const sink = dispatcherSink(
        this.deps.dispatcher,
        resolveDestination(spec.sink, namespace, this.baseUrl),
        resolveDelivery(spec.delivery, namespace, this.baseUrl),
        { namespace, trigger: `pingsource/${resource.metadata.name}` },
        abort.signal,
      );
      await source.start(sink);
      this.sources.set(name, { source, fingerprint: fingerprint(resource), abort });
    }
  }

  private async releaseUnusedBackings(): Promise<void> {
    const used = new Set([...this.brokers.values()].map((b) => b.backingKey));
    for (const [id, backing] of this.backings) {
      if (used.has(id)) continue;
      this.backings.delete(id);
      await backing.then((b) => b.close()).catch(() => undefined);
    }
  }
}

function fingerprint(resource: Resource): string {
  return JSON.stringify([resource.metadata.annotations ?? {}, resource.spec ?? {}]);
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
