import type { ConsumeMeta } from "../backing/backing.js";
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
    },
    readonly channel: ChannelRuntime,
    config: SubscriptionConfig,
  ) {
    super(deps.dispatcher, channel.backing, channel.stream, config, deps.journeys);
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
    // The journey is the channel event's: its route was reported when its subscriber answered.
    await this.deliver(
      reply,
      config.replyUrl,
      meta,
      config.subscriberUrl === undefined ? event : undefined,
    );
  }
}
