import type { CloudEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import type {
  Archive,
  ArchivedEvent,
  Backing,
  ConsumeHandler,
  SubscribeOptions,
  Subscription,
} from "../backing.js";
import { readNatsArchive } from "./archive.js";
import { NatsConnector } from "./connection.js";
import { NatsDeadLetterStore } from "./dead-letter-store.js";
import { NatsEventTypeStore } from "./event-type-store.js";
import { NatsJourneyStore } from "./journey-store.js";
import { Outbox } from "./outbox.js";
import { JetStreamProvisioning } from "./provisioning.js";
import { JetStreamPublisher } from "./publisher.js";
import type { NatsSettings } from "./settings.js";
import { DEFAULT_GRACE_MS, JetStreamSubscription } from "./subscription.js";

const READY_TIMEOUT_MS = 1_500;

/**
 * The NATS JetStream backing: one stream per broker or channel, one durable pull consumer per
 * trigger or subscription, all over one connection.
 */
export class NatsBacking implements Backing {
  readonly kind = "nats";
  readonly #connector: NatsConnector;
  readonly #outbox = new Outbox();
  readonly #provisioning: JetStreamProvisioning;
  readonly #publisher: JetStreamPublisher;
  readonly #subscriptions = new Set<JetStreamSubscription>();
  #closing: Promise<void> | undefined;
  /** Journeys live in key-value buckets on the same engine (journey-store.ts says how). */
  readonly journeys: NatsJourneyStore;
  /** Dead letters live in one stream per namespace on the same engine (dead-letter-store.ts). */
  readonly deadLetters: NatsDeadLetterStore;
  /** Auto-created EventTypes, in a key-value bucket (event-type-store.ts says how). */
  readonly eventTypes: NatsEventTypeStore;

  constructor(
    private readonly settings: NatsSettings,
    private readonly logger: Logger,
  ) {
    this.#connector = new NatsConnector(settings, logger);
    this.#provisioning = new JetStreamProvisioning(settings, logger);
    this.journeys = new NatsJourneyStore(this.#connector, settings, logger);
    this.deadLetters = new NatsDeadLetterStore(this.#connector, settings);
    this.eventTypes = new NatsEventTypeStore(this.#connector, settings);
    this.#publisher = new JetStreamPublisher(
      this.#connector,
      this.#provisioning,
      settings,
      this.#outbox,
    );
  }

  publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (this.#closing) return Promise.reject(new Error("the NATS backing is closed"));
    return this.#publisher.publish(stream, events);
  }

  async subscribe(
    stream: string,
    name: string,
    handler: ConsumeHandler,
    options: SubscribeOptions,
  ): Promise<Subscription> {
    if (this.#closing) throw new Error("the NATS backing is closed");
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new Error(`options.concurrency must be an integer >= 1, got ${options.concurrency}`);
    }
    const subscription = new JetStreamSubscription({
      connector: this.#connector,
      outbox: this.#outbox,
      provisioning: this.#provisioning,
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

  async removeConsumer(stream: string, name: string): Promise<void> {
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    await this.#provisioning.removeConsumer(link, stream, name);
  }

  readonly archive: Archive = {
    read: (stream, fromMs, toMs) => this.#readArchive(stream, fromMs, toMs),
  };

  async *#readArchive(stream: string, fromMs: number, toMs: number): AsyncIterable<ArchivedEvent> {
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    yield* readNatsArchive(link, stream, fromMs, toMs);
  }

  async retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    await this.#provisioning.retain(link, stream, retentionMs);
  }

  async removeStream(stream: string): Promise<void> {
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    await this.#provisioning.removeStream(link, stream);
  }

  async ready(): Promise<boolean> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const link = await this.#connector.linkNow(READY_TIMEOUT_MS);
    if (!link) return false;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(deadline - Date.now(), 0));
    });
    const answered = link.jsm.getAccountInfo().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.all([...this.#subscriptions].map((s) => s.close(DEFAULT_GRACE_MS)));
      this.#subscriptions.clear();
      this.#outbox.flushAll();
      await this.#connector.close();
    })();
    return this.#closing;
  }
}
