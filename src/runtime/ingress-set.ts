import { type Backing, type BackingConfig, DEFAULT_MAX_EVENTS } from "../backing/backing.js";
import { backingKey } from "../backing/registry.js";
import { DEFAULT_BODY_LIMIT, type IngressTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import { NoticeOnce } from "../observability/notice-once.js";
import { parseIsoDuration } from "../resources/duration.js";
import { isMissingReference } from "../resources/missing-reference.js";
import type { Resource } from "../resources/types.js";
import type { BackingPool } from "./backing-pool.js";
import type { DeliverySpec } from "./delivery-spec.js";

const BODY_LIMIT_ANNOTATION = "eventail.io/ingress.max-body-bytes";
const MAX_EVENTS_ANNOTATION = "eventail.io/memory.max-events";
/** CONTRACT §5: how long events stay for replay after every trigger has them. */
export const RETENTION_ANNOTATION = "eventail.io/retention";

export interface Running<T> {
  readonly target: T;
  readonly backing: Backing;
  readonly backingKey: string;
  /** The configuration it runs on (backingKey's source). */
  readonly config: BackingConfig;
  /** `spec.delivery`, the default of the consumers below it. */
  readonly delivery?: DeliverySpec;
}

export interface IngressSetOptions<T> {
  readonly what: string;
  readonly pool: BackingPool;
  readonly logger: Logger;
  /** Throws MissingReferenceError when the configuration it names is not among the resources. */
  backingOf(resource: Resource): BackingConfig;
  create(resource: Resource, backing: Backing, bodyLimit: number): T;
}

/**
 * The running brokers (or channels): one per resource, on the backing its configuration names.
 * Edits that keep the backing apply in place; a change of backing replaces the runtime, and the
 * consumers below it follow (they compare their parent by identity).
 */
export class IngressSet<T extends IngressTarget & { bodyLimit: number; readonly stream: string }> {
  readonly running = new Map<string, Running<T>>();
  /** The retention each stream's engine was last told (absent: none asked for). */
  private readonly retained = new Map<string, number>();
  /** Resources waiting for their configuration, each logged once. */
  private readonly notices = new NoticeOnce();
  /** Resources kept on their backing against a new configuration, each logged once. */
  private readonly kept = new NoticeOnce();
  /** Why each resource that could not start did not (status, CONTRACT §11). */
  readonly failures = new Map<string, string>();

  constructor(private readonly options: IngressSetOptions<T>) {}

  get(key: string): Running<T> | undefined {
    return this.running.get(key);
  }

  /** Returns false when something could not start (its engine is down): retry later. */
  async reconcile(desired: ReadonlyMap<string, Resource>): Promise<boolean> {
    const { options } = this;
    let complete = true;
    this.failures.clear();
    const configs = new Map<string, BackingConfig>();
    this.notices.keepOnly(desired);
    this.kept.keepOnly(desired);
    for (const [key, resource] of desired) {
      try {
        configs.set(key, options.backingOf(resource));
        this.notices.forget(key);
      } catch (error) {
        if (!isMissingReference(error)) throw error;
        // Its ConfigMap is not among the resources (validation warned): it waits for it.
        if (this.notices.first(key, error.message)) {
          options.logger.warn(
            { [options.what]: key, missing: error.message },
            `${options.what} waits: its configuration is not among the manifests`,
          );
        }
        this.failures.set(key, error.message);
      }
    }
    for (const [key, running] of this.running) {
      const config = configs.get(key);
      if (config !== undefined && backingKey(config) !== running.backingKey) {
        const moving = movingRefused(running.config.kind, config.kind);
        if (moving !== undefined) {
          // It keeps running where it is (and Ready); the log says why, once.
          if (this.kept.first(key, moving)) {
            options.logger.warn({ [options.what]: key }, moving);
          }
          configs.set(key, running.config);
          continue;
        }
      }
      if (!config || backingKey(config) !== running.backingKey) {
        this.running.delete(key);
        this.retained.delete(key);
      }
    }
    for (const [key, resource] of desired) {
      const config = configs.get(key);
      if (config === undefined) continue;
      const spec = (resource.spec ?? {}) as { delivery?: DeliverySpec };
      const delivery = spec.delivery ? { delivery: spec.delivery } : {};
      const bodyLimit = Number(
        resource.metadata.annotations?.[BODY_LIMIT_ANNOTATION] ?? DEFAULT_BODY_LIMIT,
      );
      const maxEvents = Number(
        resource.metadata.annotations?.[MAX_EVENTS_ANNOTATION] ?? DEFAULT_MAX_EVENTS,
      );
      const retention = resource.metadata.annotations?.[RETENTION_ANNOTATION];
      const retentionMs = retention === undefined ? undefined : parseIsoDuration(retention);
      const existing = this.running.get(key);
      if (existing) {
        existing.target.bodyLimit = bodyLimit;
        existing.backing.limitStream?.(existing.target.stream, maxEvents);
        await this.retain(key, existing.backing, existing.target.stream, retentionMs);
        this.running.set(key, {
          target: existing.target,
          backing: existing.backing,
          backingKey: existing.backingKey,
          config: existing.config,
          ...delivery,
        });
        continue;
      }
      try {
        const { key: id, backing } = options.pool.acquire(config);
        const ready = await backing;
        const target = options.create(resource, ready, bodyLimit);
        ready.limitStream?.(target.stream, maxEvents);
        await this.retain(key, ready, target.stream, retentionMs);
        this.running.set(key, { target, backing: ready, backingKey: id, config, ...delivery });
        options.logger.info({ [options.what]: key, backing: config.kind }, `${options.what} ready`);
      } catch (error) {
        options.logger.error(
          { err: error, [options.what]: key },
          `${options.what} could not start`,
        );
        complete = false;
        this.failures.set(key, (error as Error).message);
      }
    }
    return complete;
  }

  /**
   * Applies the retention annotation. A refusal (NATS will not take retention away from a running
   * stream) leaves the broker running as it was, with the reason in its status until the next
   * reconcile asks again; it is not retried in a loop, since only an edit can change the answer.
   */
  private async retain(
    key: string,
    backing: Backing,
    stream: string,
    retentionMs: number | undefined,
  ): Promise<void> {
    // Only a change is sent to the engine: asking it on every reconcile would hold the whole
    // reconcile (every other broker's registration included) while an engine is away.
    if (this.retained.get(key) === retentionMs) return;
    try {
      await backing.retainStream?.(stream, retentionMs);
      if (retentionMs === undefined) this.retained.delete(key);
      else this.retained.set(key, retentionMs);
    } catch (error) {
      this.options.logger.error(
        { err: error, [this.options.what]: key },
        `${this.options.what} retention could not be applied`,
      );
      this.failures.set(key, (error as Error).message);
    }
  }

  backingKeys(): string[] {
    return [...this.running.values()].map((r) => r.backingKey);
  }

  clear(): void {
    this.running.clear();
    this.retained.clear();
  }
}

/**
 * Why a running broker or channel keeps its backing against a new configuration, or undefined
 * when it may move: a memory backing's events would be lost with it, and another engine kind's
 * would be left behind where nothing reads them. Knative makes a Broker's `spec.config`
 * immutable for the same reason. A durable backing of the same kind moves (new settings, the
 * same streams).
 */
function movingRefused(from: string, to: string): string | undefined {
  if (from !== "memory" && from === to) return undefined;
  const lost = from === "memory" ? "lose the events it holds" : `leave its events on ${from}`;
  return `keeps running on its ${from} backing: the new configuration (${to}) would ${lost}; delete it and create it again to change it`;
}
