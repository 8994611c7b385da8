import type { ConsumeMeta, SubscribeOptions } from "../backing/backing.js";
import type { DeadLetterKeeper } from "../backing/dead-letter.js";
import type { JourneyRecorder } from "../backing/journey.js";
import {
  type ConsumerConfig,
  type ReplyRoute,
  StreamConsumer,
} from "../backing/stream-consumer.js";
import { type TailFeed, tailOutcome } from "../backing/tail-feed.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { DeliveryOutcome } from "../delivery/options.js";
import { type CloudEvent, EventValidationError, eventLogFields } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { AuthorizationError } from "../security/errors.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import { compileFilter, type Filter, type TriggerFilterSpec } from "../triggers/filter.js";
import type { Broker } from "./broker.js";
import { TTL_ATTRIBUTE, TtlExhaustedError } from "./ttl.js";

/** Everything a trigger needs to deliver, resolved from its manifest (and its broker's). */
export interface TriggerConfig extends ConsumerConfig {
  readonly filter: Filter;
  readonly subscriberUrl: string;
  /**
   * True for an event a request held open in Eventail waits on (a RequestReply's request, which
   * this trigger may carry to the responder): its delivery is DeliveryControl.heldOpen.
   */
  readonly awaited?: (event: CloudEvent) => boolean;
}

export interface TriggerDeps {
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Journeys (CONTRACT §11); absent with `--journey-size 0`. */
  readonly journeys?: JourneyRecorder;
  /** The live tail (CONTRACT §11), told how each event fared here. */
  readonly tail?: TailFeed;
  /** The dead-letter store (CONTRACT §11) for events whose attempts ran out. */
  readonly deadLetters?: DeadLetterKeeper;
  /**
   * With authentication on: throws AuthorizationError unless the Broker's EventPolicies let this
   * Trigger's identity send the reply (Knative's filter posts replies to the ingress as the Trigger).
   */
  readonly authorizeReply?: (
    namespace: string,
    trigger: string,
    broker: string,
    events: readonly CloudEvent[],
  ) => void;
}

/**
 * Filters see the event as the subscriber will: Knative's broker deletes the TTL before it filters.
 * Hiding the name in the compiled filter spares copying every event to remove it.
 */
const INVISIBLE_TO_FILTERS: ReadonlySet<string> = new Set([TTL_ATTRIBUTE]);

/** A replayed event is handed over once; nothing on an engine waits for it to be worked on. */
const REPLAY_META: ConsumeMeta = { deliveryCount: 1, keepAlive: () => undefined };

/** A trigger's filter as its broker runs it. */
export function compileTriggerFilter(spec: TriggerFilterSpec): Filter {
  return compileFilter(spec, compileCesqlPredicate, INVISIBLE_TO_FILTERS);
}

/**
 * One trigger: a named consumer of its broker's stream that filters, delivers through the
 * Dispatcher and feeds replies back into the broker.
 */
export class TriggerRuntime extends StreamConsumer<TriggerConfig> {
  protected readonly consumerPrefix = "trigger";

  constructor(
    private readonly deps: TriggerDeps,
    readonly broker: Broker,
    config: TriggerConfig,
  ) {
    super(deps.dispatcher, broker.backing, broker.stream, config, deps.journeys, deps.deadLetters);
  }

  protected override subscribeOptions(config: TriggerConfig): SubscribeOptions {
    const hint = config.filter.requiredType;
    return {
      concurrency: config.concurrency,
      ordered: config.ordered,
      ...(hint === undefined ? {} : { typeHint: hint }),
    };
  }

  /** The Trigger's name in its namespace. */
  get name(): string {
    return this.config.name;
  }

  /**
   * CONTRACT §11 replay: an archived event through this trigger's current filter and delivery
   * rules, as a live one would go, but not through the backing (so no other trigger sees it).
   * Rejects only when it could not be handled (shutdown, a reply the broker could not take).
   */
  replay(event: CloudEvent): Promise<void> {
    return this.handle(event, REPLAY_META);
  }

  protected override heldOpen(event: CloudEvent): boolean {
    return this.config.awaited?.(event) === true;
  }

  private tailOrigin() {
    return { namespace: this.broker.namespace, kind: "broker", name: this.broker.name } as const;
  }

  protected async handle(event: CloudEvent, meta: ConsumeMeta): Promise<void> {
    const config = this.config;
    if (!config.filter.match(event)) {
      this.journeys?.routed(this.backing, this.stream, event, this.route("filtered-out"));
      return;
    }
    // The route's attempts matter only to a journey (a dropped reply is reported again).
    const route: ReplyRoute | undefined =
      this.journeys === undefined ? undefined : { event, replyGoesOn: false, attempts: [] };
    const outcome = await this.deliver(event, config.subscriberUrl, meta, route);
    const tail = this.deps.tail;
    if (tail?.active) {
      tail.outcome(this.tailOrigin(), event, tailOutcome(event, "Trigger", config.name, outcome));
    }
    // Only a reply has anything to forward: no async call and await for every other delivery.
    if (outcome.kind === "replied") await this.forwardReply(outcome, event, route);
  }

  /**
   * A redrive of a dead letter (CONTRACT §11): to the current subscriber, or `url`, under the
   * current delivery rules, a reply going on into the broker as usual. True once delivered.
   */
  async redrive(event: CloudEvent, url: string = this.config.subscriberUrl): Promise<boolean> {
    const route: ReplyRoute = { event, replyGoesOn: false, attempts: [] };
    const outcome = await this.redeliver(event, url, route);
    if (outcome.kind !== "delivered" && outcome.kind !== "replied") return false;
    await this.forwardReply(outcome, event, route);
    return true;
  }

  /**
   * The reply into the broker. One that ingress refuses for good is dropped, and `route` (already
   * reported `replied`) is reported again saying so: its `replyId` names an event never accepted.
   */
  private async forwardReply(
    outcome: DeliveryOutcome,
    event: CloudEvent,
    route: ReplyRoute | undefined,
  ): Promise<void> {
    const config = this.config;
    if (outcome.kind !== "replied") return;
    try {
      this.deps.authorizeReply?.(config.namespace, config.name, this.broker.name, [outcome.reply]);
      await this.broker.ingestReply(outcome.reply, event);
    } catch (error) {
      const exhausted = error instanceof TtlExhaustedError;
      const forbidden = error instanceof AuthorizationError;
      // Anything else (the backing full or unavailable) may pass: the delivery fails, as in Knative,
      // and the backing redelivers the event, so the subscriber is asked again.
      if (!exhausted && !forbidden && !(error instanceof EventValidationError)) throw error;
      // A reply that ingress refuses (TTL used up, invalid, not allowed) can never succeed: drop it.
      this.deps.metrics.droppedEvents.inc({
        namespace: config.namespace,
        reason: exhausted ? "ttl-exhausted" : forbidden ? "reply-forbidden" : "invalid-reply",
      });
      this.deps.logger.warn(
        { ...eventLogFields(outcome.reply), trigger: config.name, reason: error.message },
        "reply dropped",
      );
      if (route !== undefined) {
        // Same attempts as the `replied` report it replaces: the later report wins a tie.
        this.report(event, {
          ...this.route("replied"),
          attempts: [...route.attempts],
          replyId: String(outcome.reply.attributes["id"]),
          reason: `the reply was dropped: ${error.message}`,
        });
      }
    }
  }
}
