import type { ConsumerConfig, StreamConsumer } from "../backing/stream-consumer.js";
import type { Logger } from "../observability/logger.js";
import { NoticeOnce } from "../observability/notice-once.js";
import { isMissingReference } from "../resources/missing-reference.js";
import type { Resource } from "../resources/types.js";

const ORDER_ANNOTATION = "eventail.io/delivery.order";
const CONCURRENCY_ANNOTATION = "eventail.io/delivery.concurrency";
const DEFAULT_CONCURRENCY = 64;

/** Ordering and concurrency, from a Trigger's or Subscription's annotations. */
export function consumerMode(resource: Resource): { ordered: boolean; concurrency: number } {
  const annotations = resource.metadata.annotations ?? {};
  const concurrency = Number(annotations[CONCURRENCY_ANNOTATION] ?? DEFAULT_CONCURRENCY);
  return {
    ordered: annotations[ORDER_ANNOTATION] === "ordered",
    concurrency:
      Number.isInteger(concurrency) && concurrency > 0 ? concurrency : DEFAULT_CONCURRENCY,
  };
}

export interface ConsumerSetOptions<C extends ConsumerConfig, P> {
  readonly what: string;
  /** What `parentOf` finds: broker, channel. */
  readonly parentKind: string;
  readonly logger: Logger;
  readonly drainMs: number;
  /** The running broker or channel the resource consumes from, if it runs. */
  parentOf(resource: Resource): P | undefined;
  /** What makes two parents the same runtime (the broker or channel object itself). */
  identity(parent: P): unknown;
  /** The stream the parent's consumers read. */
  streamOf(parent: P): string;
  configOf(resource: Resource, parent: P): C;
  create(parent: P, config: C): StreamConsumer<C>;
}

/** Where a trigger's (or subscription's) consumer stands after the last reconcile. */
export type ConsumerState =
  | { readonly state: "subscribed" }
  | { readonly state: "no-parent" }
  | { readonly state: "invalid"; readonly message: string }
  | { readonly state: "not-subscribed"; readonly message: string };

interface RunningConsumer<C extends ConsumerConfig, P> {
  readonly consumer: StreamConsumer<C>;
  readonly parent: P;
}

/**
 * The running triggers (or subscriptions). Config edits swap in place so the consumer keeps its
 * position; a new parent (broker or channel replaced) or a new ordering mode resubscribes.
 */
export class ConsumerSet<C extends ConsumerConfig, P> {
  private readonly running = new Map<string, RunningConsumer<C, P>>();
  /** Identities of the parents with a consumer that could not subscribe in the last reconcile. */
  private waiting = new Set<unknown>();
  /** Consumers left stopped until what they name is added, each logged once. */
  private readonly notices = new NoticeOnce();
  private states = new Map<string, ConsumerState>();
  /**
   * Consumers kept running after their new version failed to subscribe. That subscribe may have
   * got far enough to take the engine's consumer (NATS rebuilds the durable for a new filter, and
   * the old version then stops pulling), so they are never updated in place again: the next
   * version, even one they would accept, subscribes afresh and sets the engine's consumer back.
   */
  private readonly unsettled = new Set<string>();

  constructor(private readonly options: ConsumerSetOptions<C, P>) {}

  /**
   * Returns false when something could not subscribe (its engine is down): retry later.
   * `deletedParents` holds the identities of brokers or channels deleted since the last call.
   */
  async reconcile(
    desired: ReadonlyMap<string, Resource>,
    deletedParents: ReadonlySet<unknown> = new Set(),
  ): Promise<boolean> {
    const { options } = this;
    let complete = true;
    const waiting = new Set<unknown>();
    const states = new Map<string, ConsumerState>();
    const deleted: Array<[string, RunningConsumer<C, P>]> = [];
    for (const [key, running] of this.running) {
      const resource = desired.get(key);
      if (!resource || deletedParents.has(options.identity(running.parent))) {
        // Removed only after the others started: a rename's new consumer exists by then.
        deleted.push([key, running]);
        continue;
      }
      const parent = options.parentOf(resource);
      if (!parent || options.identity(parent) !== options.identity(running.parent)) {
        this.running.delete(key);
        // Moved to another broker or channel: its consumer on the old stream is wanted no more.
        if (parent && options.streamOf(parent) !== running.consumer.stream) {
          deleted.push([key, running]);
        } else await running.consumer.stop(options.drainMs);
      }
    }
    for (const [key] of deleted) this.running.delete(key);
    this.notices.keepOnly(desired);
    for (const [key, resource] of desired) {
      const parent = options.parentOf(resource);
      if (parent === undefined) {
        states.set(key, { state: "no-parent" });
        // Its broker or channel is not among the resources (validation warned), or cannot run.
        if (this.notices.first(key, "parent")) {
          options.logger.warn(
            { [options.what]: key },
            `${options.what} waits for its ${this.options.parentKind} to run`,
          );
        }
        continue;
      }
      let config: C;
      try {
        config = options.configOf(resource, parent);
      } catch (error) {
        states.set(key, { state: "invalid", message: (error as Error).message });
        if (isMissingReference(error)) {
          // Knative leaves it not Ready; here it stops until what it names is added.
          await this.stopOne(key);
          if (this.notices.first(key, error.message)) {
            options.logger.warn(
              { [options.what]: key, missing: error.message },
              `${options.what} waits: something it names is not among the manifests`,
            );
          }
        } else {
          options.logger.error({ err: error, [options.what]: key }, `${options.what} is invalid`);
        }
        continue;
      }
      this.notices.forget(key);
      const running = this.running.get(key);
      if (!this.unsettled.has(key) && running?.consumer.update(config)) {
        states.set(key, { state: "subscribed" });
        continue;
      }
      // The new version subscribes before the old one stops, under the same consumer name, so
      // the backing hands it what arrives in between (a memory consumer applies the new type
      // hint at once) and the old version only drains what it already has.
      const consumer = options.create(parent, config);
      try {
        await consumer.start();
      } catch (error) {
        options.logger.error(
          { err: error, [options.what]: key },
          `${options.what} could not subscribe`,
        );
        complete = false;
        if (running) this.unsettled.add(key);
        waiting.add(options.identity(parent));
        states.set(key, { state: "not-subscribed", message: (error as Error).message });
        continue;
      }
      states.set(key, { state: "subscribed" });
      this.running.set(key, { consumer, parent });
      this.unsettled.delete(key);
      if (running) await running.consumer.stop(options.drainMs);
    }
    for (const [key, { consumer }] of deleted) await this.remove(key, consumer);
    for (const key of this.unsettled) if (!this.running.has(key)) this.unsettled.delete(key);
    this.waiting = waiting;
    this.states = states;
    return complete;
  }

  /**
   * A deleted trigger's consumer leaves the engine too, or it would pin every later event. An
   * engine that cannot be reached now keeps it (NATS drops it after max_age of inactivity).
   */
  private async remove(key: string, consumer: StreamConsumer<C>): Promise<void> {
    const { options } = this;
    try {
      await consumer.remove(options.drainMs);
      options.logger.info({ [options.what]: key }, `${options.what} deleted with its consumer`);
    } catch (error) {
      options.logger.warn(
        { err: error, [options.what]: key, consumer: consumer.consumerName },
        `${options.what} deleted, but its consumer could not be removed from the engine`,
      );
    }
  }

  private async stopOne(key: string): Promise<void> {
    const running = this.running.get(key);
    if (!running) return;
    this.running.delete(key);
    await running.consumer.stop(this.options.drainMs);
  }

  /** True when a consumer of this parent could not subscribe: its events would miss it. */
  isWaiting(parentIdentity: unknown): boolean {
    return this.waiting.has(parentIdentity);
  }

  /** The running consumer of `namespace/name`, if any. */
  consumerOf(key: string): StreamConsumer<C> | undefined {
    return this.running.get(key)?.consumer;
  }

  /** The state of `namespace/name` after the last reconcile; undefined when not desired then. */
  /** Every running consumer. */
  *all(): IterableIterator<StreamConsumer<C>> {
    for (const { consumer } of this.running.values()) yield consumer;
  }

  /** The consumers running under the parent with this identity. */
  consumersOf(parentIdentity: unknown): StreamConsumer<C>[] {
    const found: StreamConsumer<C>[] = [];
    for (const { consumer, parent } of this.running.values()) {
      if (this.options.identity(parent) === parentIdentity) found.push(consumer);
    }
    return found;
  }

  stateOf(key: string): ConsumerState | undefined {
    return this.states.get(key);
  }

  async stopAll(graceMs: number): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    this.unsettled.clear();
    await Promise.all(all.map((r) => r.consumer.stop(graceMs)));
  }
}
