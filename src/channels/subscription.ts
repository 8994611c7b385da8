import type { ConsumeMeta } from "../backing/backing.js";
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
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { ChannelRuntime } from "./channel.js";

export interface SubscriptionConfig extends ConsumerConfig {
  /** Absent: the event itself goes on to `replyUrl` (how Parallel branches without filter pass). */
  readonly subscriberUrl?: string;
  readonly replyUrl?: string;
}

/**
 * One Subscription: every event of its channel goes to its subscriber; a reply goes on to
 * `spec.reply` (dropped, and counted, when there is none).
 */
export class SubscriptionRuntime extends StreamConsumer<SubscriptionConfig> {
  protected readonly consumerPrefix = "subscription";

  constructor(
    private readonly deps: {
      dispatcher: Dispatcher;
      logger: Logger;
      metrics: Metrics;
      journeys?: JourneyRecorder;
      /** The live tail (CONTRACT §11), told how each delivery to the subscriber ended. */
      tail?: TailFeed;
      /** The dead-letter store (CONTRACT §4, §11) for events whose attempts ran out. */
      deadLetters?: DeadLetterKeeper;
    },
    readonly channel: ChannelRuntime,
    config: SubscriptionConfig,
  ) {
    super(
      deps.dispatcher,
      channel.backing,
      channel.stream,
      config,
      deps.journeys,
      deps.deadLetters,
    );
  }

  protected async handle(event: CloudEvent, meta: ConsumeMeta): Promise<void> {
    const config = this.config;
    if (config.subscriberUrl === undefined) {
      // A Parallel branch without filter: the event itself goes on, and that delivery is its route.
      await this.forwardReply(event, meta);
      return;
    }
    const route: ReplyRoute = { event, replyGoesOn: config.replyUrl !== undefined, attempts: [] };
    const outcome = await this.deliver(event, config.subscriberUrl, meta, route);
    const replied =
      outcome.kind === "replied" ? await this.forwardReply(outcome.reply, meta, route) : undefined;
    const tail = this.deps.tail;
    if (tail?.active) {
      const { namespace, name } = this.channel;
      // A reply spec.reply refused ends the route as its failure left the event, not `replied`.
      const ended =
        replied === undefined || replied.kind === "delivered" || replied.kind === "replied"
          ? outcome
          : {
              kind: replied.kind,
              status: replied.status,
              attempts: outcome.attempts + replied.attempts,
            };
      tail.outcome(
        { namespace, kind: "channel", name },
        event,
        tailOutcome(event, "Subscription", config.name, ended),
      );
    }
  }

  /**
   * A redrive of a dead letter (CONTRACT §11) under the current delivery rules: to the current
   * subscriber, its reply going on to `spec.reply` as usual (a reply that failed was kept as the
   * event the subscriber got, so it is asked again). Only entries kept by earlier versions hold
   * the failed reply itself (`step` "reply"): those go to the current `spec.reply`, as does
   * everything of a subscription without subscriber. `url` (a redrive's `to`) replaces the
   * destination. True once delivered.
   */
  async redrive(event: CloudEvent, step: "reply" | undefined, url?: string): Promise<boolean> {
    const config = this.config;
    const replyLeg = step === "reply" || config.subscriberUrl === undefined;
    const target = url ?? (replyLeg ? config.replyUrl : config.subscriberUrl);
    if (target === undefined) return false;
    const route: ReplyRoute | undefined = replyLeg
      ? undefined
      : { event, replyGoesOn: config.replyUrl !== undefined, attempts: [] };
    // Without a subscriber, spec.reply is the one destination and takes the rate, as live.
    const unpaced = replyLeg && config.subscriberUrl !== undefined;
    const outcome = await this.redeliver(event, target, route, unpaced);
    if (outcome.kind !== "delivered" && outcome.kind !== "replied") return false;
    if (outcome.kind === "replied" && route !== undefined) {
      // Not the engine's event: nothing to keep alive. A reply that fails is kept in its turn.
      await this.forwardReply(outcome.reply, { deliveryCount: 1, keepAlive: () => {} }, route);
    }
    return true;
  }

  /**
   * Sends `reply` on to `spec.reply`: the second leg of `route` when the subscriber replied, else
   * (a Parallel branch without filter) the event itself, its own route. When that fails, what is
   * dead-lettered (sink or store) is the event the subscriber got, with `knativeerrordest` the
   * reply URL: Knative's channel dispatcher does the same, and a redrive can then ask the
   * subscriber again. Undefined when there is no `spec.reply`.
   */
  private async forwardReply(
    reply: CloudEvent,
    meta: ConsumeMeta,
    route?: ReplyRoute,
  ): Promise<DeliveryOutcome | undefined> {
    const config = this.config;
    if (config.replyUrl === undefined) {
      this.deps.metrics.droppedEvents.inc({
        namespace: config.namespace,
        reason: "no-reply-destination",
      });
      this.deps.logger.info(
        { ...eventLogFields(reply), subscription: config.name },
        "reply dropped: the subscription has no spec.reply",
      );
      // spec.reply went in a reload while the subscriber answered: the first leg left the
      // route's report to a reply leg that will not come.
      if (route?.replyGoesOn === true && route.replyId !== undefined) {
        this.report(route.event, {
          ...this.route("replied"),
          attempts: [...route.attempts],
          replyId: route.replyId,
        });
      }
      return undefined;
    }
    return this.deliver(reply, config.replyUrl, meta, route);
  }
}
