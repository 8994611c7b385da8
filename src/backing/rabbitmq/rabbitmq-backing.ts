import type { CloudEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import type {
  Archive,
  Backing,
  ConsumeHandler,
  SubscribeOptions,
  Subscription,
} from "../backing.js";
import { deleteArchive, readRabbitArchive, retainRabbitStream } from "./archive.js";
import { RabbitConnector, unavailable, withTimeout } from "./connection.js";
import { RabbitDeadLetterStore } from "./dead-letter-store.js";
import { RabbitEventTypeStore } from "./event-type-store.js";
import { RabbitJourneyStore } from "./journey-store.js";
import { exchangeName, queueName } from "./naming.js";
import { RabbitPublisher } from "./publisher.js";
import type { RabbitSettings } from "./settings.js";
import { DEFAULT_GRACE_MS, RabbitSubscription } from "./subscription.js";
import { deleteConsumerQueue, deleteExchange, onTemporaryChannel } from "./topology.js";

const READY_TIMEOUT_MS = 1_500;

/**
 * The RabbitMQ backing: one durable topic exchange per broker or channel, one durable queue per
 * trigger or subscription bound to it (by the trigger's type hint where it has one), all over one
 * connection. Journeys, dead letters, auto-created EventTypes and a retained broker's archive
 * are kept on stream queues (journey-store.ts, dead-letter-store.ts, event-type-store.ts,
 * archive.ts).
 */
export class RabbitBacking implements Backing {
  readonly kind = "rabbitmq";
  readonly #connector: RabbitConnector;
  readonly #publisher: RabbitPublisher;
  readonly #subscriptions = new Set<RabbitSubscription>();
  /** Journeys on the `eventail.journeys` stream, shared by every process (journey-store.ts). */
  readonly journeys: RabbitJourneyStore;
  /** Dead letters on the `eventail.deadletters` stream, shared by every process. */
  readonly deadLetters: RabbitDeadLetterStore;
  #closing: Promise<void> | undefined;
  /** Auto-created EventTypes, shared through a stream queue (event-type-store.ts). */
  readonly eventTypes: RabbitEventTypeStore;

  constructor(
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
  ) {
    this.#connector = new RabbitConnector(settings, logger);
    this.#publisher = new RabbitPublisher(this.#connector, settings, logger);
    this.eventTypes = new RabbitEventTypeStore(this.#connector, settings, logger);
    this.journeys = new RabbitJourneyStore(this.#connector, settings, logger);
    this.deadLetters = new RabbitDeadLetterStore(this.#connector, settings, logger);
  }

  publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (this.#closing) {
      return Promise.reject(unavailable("publish", new Error("the RabbitMQ backing is closed")));
    }
    return this.#publisher.publish(stream, events);
  }

  async subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    if (this.#closing) throw unavailable(`subscribing ${name}`, new Error("backing closed"));
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`options.concurrency must be an integer >= 1, got ${options.concurrency}`);
    }
    const subscription = new RabbitSubscription({
      connector: this.#connector,
      settings: this.settings,
      logger: this.logger.child({ stream, consumer: name }),
      stream,
      consumer: name,
      handler,
      options,
    });
    await subscription.start();
    this.#subscriptions.add(subscription);
    return {
      close: async (graceMs?: number) => {
        await subscription.close(graceMs);
        this.#subscriptions.delete(subscription);
      },
    };
  }

  /** Deletes the consumer's queue with whatever it still holds. */
  async removeConsumer(stream: string, name: string): Promise<void> {
    const what = `deleting queue ${queueName(stream, name)}`;
    try {
      const model = await this.#connector.connected({
        timeoutMs: this.settings.subscribeTimeoutMs,
      });
      await withTimeout(
        deleteConsumerQueue(model, stream, name),
        this.settings.subscribeTimeoutMs,
        what,
      );
    } catch (error) {
      throw unavailable(what, error);
    }
  }

  /** CONTRACT §5 retention: a stream queue next to the triggers' queues (archive.ts). */
  retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    return retainRabbitStream(this.#connector, this.settings, stream, retentionMs);
  }

  readonly archive: Archive = {
    read: (stream, fromMs, toMs) =>
      readRabbitArchive(this.#connector, this.settings, stream, fromMs, toMs),
  };

  /** Deletes the exchange; its consumers' queues were removed before. */
  async removeStream(stream: string): Promise<void> {
    const what = `deleting exchange ${exchangeName(stream)}`;
    this.#publisher.forget(stream);
    try {
      const model = await this.#connector.connected({
        timeoutMs: this.settings.subscribeTimeoutMs,
      });
      await withTimeout(deleteArchive(model, stream), this.settings.subscribeTimeoutMs, what);
      await withTimeout(deleteExchange(model, stream), this.settings.subscribeTimeoutMs, what);
    } catch (error) {
      throw unavailable(what, error);
    }
  }

  /** A channel opened and an exchange every server has checked, within the bound. */
  async ready(): Promise<boolean> {
    if (this.#closing) return false;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const model = await this.#connector.modelNow(READY_TIMEOUT_MS);
    if (!model) return false;
    try {
      await withTimeout(
        onTemporaryChannel(model, (channel) => channel.checkExchange("amq.topic")),
        Math.max(deadline - Date.now(), 0),
      );
      return true;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.close(DEFAULT_GRACE_MS)));
      this.#subscriptions.clear();
      await this.#publisher.close();
      await Promise.all([this.eventTypes.close(), this.journeys.close(), this.deadLetters.close()]);
      await this.#connector.close();
    })();
    return this.#closing;
  }
}
