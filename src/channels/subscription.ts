import type { ConsumeMeta } from "../backing/backing.js";
import type { DeadLetterKeeper } from "../backing/dead-letter.js";
import type { JourneyRecorder } from "../backing/journey.js";
import { type ConsumerConfig, StreamConsumer } from "../backing/stream-consumer.js";
import { type TailFeed, tailOutcome } from "../backing/tail-feed.js";
import type { Dispatcher } from "../delivery/dispatcher.js";
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
    let reply: CloudEvent | undefined = event;
    if (config.subscriberUrl !== undefined) {
      const outcome = await this.deliver(event, config.subscriberUrl, meta);
      const tail = this.deps.tail;
      if (tail?.active) {
        const { namespace, name } = this.channel;
        tail.outcome(
          { namespace, kind: "channel", name },
          event,
          tailOutcome(event, "Subscription", config.name, outcome),
        );
      }
      reply = outcome.kind === "replied" ? outcome.reply : undefined;
    }
    if (reply === undefined) return;
    // The journey is the channel event's: its route was reported when its subscriber answered.
    await this.forwardReply(
      reply,
      meta,
      config.subscriberUrl === undefined ? event : undefined,
      event,
    );
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
    const outcome = await this.redeliver(event, target, replyLeg);
    if (outcome.kind !== "delivered" && outcome.kind !== "replied") return false;
    if (outcome.kind === "replied" && !replyLeg) {
      // Not the engine's event: nothing to keep alive. A reply that fails is kept in its turn.
      await this.forwardReply(
        outcome.reply,
        { deliveryCount: 1, keepAlive: () => {} },
        undefined,
        event,
      );
    }
    return true;
  }

  /**
   * Sends `reply` on to `spec.reply`. When that fails, what is dead-lettered (sink or store) is
   * `original`, the event the subscriber got, with `knativeerrordest` the reply URL: Knative's
   * channel dispatcher does the same, and a redrive can then ask the subscriber again.
   */
  private async forwardReply(
    reply: CloudEvent,
    meta: ConsumeMeta,
    journeyOf: CloudEvent | undefined,
    original: CloudEvent,
  ): Promise<void> {
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
      return;
    }
    await this.deliver(reply, config.replyUrl, meta, journeyOf, original);
  }
}
