import type { Broker } from "../broker/broker.js";
import { HttpError } from "../server/errors.js";
import type { ConsumeMeta, Subscription } from "../channels/backing.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { DeliveryOptions } from "../delivery/options.js";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { Filter } from "./filter.js";

/** Everything a trigger needs to deliver, resolved from its manifest (and its broker's). */
export interface TriggerConfig {
  readonly namespace: string;
  readonly name: string;
  readonly filter: Filter;
  readonly subscriberUrl: string;
  readonly delivery: DeliveryOptions;
  readonly ordered: boolean;
  readonly concurrency: number;
}

export interface TriggerDeps {
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * One trigger: a named consumer of its broker's stream that filters, delivers through the
 * Dispatcher and feeds replies back into the broker.
 *
 * A manifest edit swaps the config in place (`update`) so the consumer keeps its position and
 * nothing already accepted is skipped; only a change of ordering mode or concurrency resubscribes.
 */
export class TriggerRuntime {
  private subscription?: Subscription;
  private readonly shutdown = new AbortController();

  constructor(
    private readonly deps: TriggerDeps,
    readonly broker: Broker,
    private config: TriggerConfig,
  ) {}

  get consumerName(): string {
    return `trigger.${this.config.namespace}.${this.config.name}`;
  }

  async start(): Promise<void> {
    this.subscription = await this.broker.backing.subscribe(
      this.broker.stream,
      this.consumerName,
      (event, meta) => this.handle(event, meta),
      { concurrency: this.config.concurrency, ordered: this.config.ordered },
    );
  }

  /** Applies a new version of the trigger; returns false when it needs a fresh subscription. */
  update(config: TriggerConfig): boolean {
    if (config.ordered !== this.config.ordered || config.concurrency !== this.config.concurrency) {
      return false;
    }
    this.config = config;
    return true;
  }

  async stop(graceMs: number): Promise<void> {
    const timer = setTimeout(() => this.shutdown.abort(), graceMs);
    try {
      await this.subscription?.close(graceMs);
    } finally {
      clearTimeout(timer);
    }
  }

  private async handle(event: CloudEvent, meta: ConsumeMeta): Promise<void> {
    const config = this.config;
    if (!config.filter.match(event)) return;
    const outcome = await this.deps.dispatcher.deliver(
      event,
      config.subscriberUrl,
      config.delivery,
      { namespace: config.namespace, trigger: config.name },
      { signal: this.shutdown.signal, keepAlive: meta.keepAlive },
    );
    if (outcome.kind !== "replied") return;
    try {
      await this.broker.ingestReply(outcome.reply, event);
    } catch (error) {
      if (error instanceof HttpError) {
        // A reply that ingress refuses (TTL used up, invalid) can never succeed: drop it.
        this.deps.metrics.droppedEvents.inc({
          namespace: config.namespace,
          reason: error.code === "TTL_EXHAUSTED" ? "ttl-exhausted" : "invalid-reply",
        });
        this.deps.logger.warn(
          { ...eventLogFields(outcome.reply), trigger: config.name, reason: error.message },
          "reply dropped",
        );
        return;
      }
      // The backing is unavailable: fail the handler so the event is redelivered later.
      throw error;
    }
  }
}
