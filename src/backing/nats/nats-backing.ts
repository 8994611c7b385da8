import { setTimeout as sleep } from "node:timers/promises";
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
/** How often a stream left by a retention takeover is checked for being drained. */
const DRAIN_POLL_MS = 250;

/** One subscribe() call: one JetStreamSubscription, two while a retention takeover drains. */
interface Held {
  readonly stream: string;
  readonly name: string;
  readonly handler: ConsumeHandler;
  readonly options: SubscribeOptions;
  readonly parts: JetStreamSubscription[];
  closed: boolean;
}

/**
 * The NATS JetStream backing: one stream per broker or channel, one durable pull consumer per
 * trigger or subscription, all over one connection.
 */
export class NatsBacking implements Backing {
  readonly kind = "nats";
  readonly #connector: NatsConnector;
  readonly #outbox: Outbox;
  #sendFailed = false;
  readonly #provisioning: JetStreamProvisioning;
  readonly #publisher: JetStreamPublisher;
  readonly #subscriptions = new Set<JetStreamSubscription>();
  readonly #held = new Set<Held>();
  /** Streams whose retention takeover left an old JetStream stream draining, by that name. */
  readonly #draining = new Map<string, string>();
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
    this.#outbox = new Outbox((error) => {
      // A closing or closed connection; what was not sent is asked for or redelivered again.
      const log = this.#sendFailed ? logger.debug : logger.warn;
      this.#sendFailed = true;
      log.call(logger, { err: error }, "a message could not be handed to NATS");
    });
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
    const held: Held = { stream, name, handler, options, parts: [], closed: false };
    await this.#startPart(held);
    this.#held.add(held);
    try {
      if (this.#draining.has(stream)) await this.#ensureParts(held);
    } catch (error) {
      // The caller drops a subscription it never got: what started must not pull on for it.
      held.closed = true;
      this.#held.delete(held);
      await Promise.all([...held.parts].map((part) => this.#closePart(held, part, 0)));
      throw error;
    }
    return {
      close: async (graceMs?: number) => {
        held.closed = true;
        this.#held.delete(held);
        await Promise.all(held.parts.map((part) => this.#closePart(held, part, graceMs)));
      },
    };
  }

  async #startPart(held: Held, drains?: string): Promise<void> {
    const { stream, name, handler, options } = held;
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
      ...(drains === undefined ? {} : { drains }),
    });
    await subscription.start();
    this.#subscriptions.add(subscription);
    held.parts.push(subscription);
  }

  async #closePart(held: Held, part: JetStreamSubscription, graceMs?: number): Promise<void> {
    const at = held.parts.indexOf(part);
    if (at >= 0) held.parts.splice(at, 1);
    await part.close(graceMs);
    this.#subscriptions.delete(part);
  }

  /**
   * While a retention takeover drains the old stream, a subscription pulls from both: the new
   * stream (where everything published since the swap is) and the old one, as long as its
   * consumer there has events left.
   */
  async #ensureParts(held: Held): Promise<void> {
    const draining = this.#draining.get(held.stream);
    if (held.closed || draining === undefined) return;
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    const active = await this.#provisioning.currentName(link, held.stream);
    if (!held.parts.some((part) => part.jetStreamName === active)) await this.#startPart(held);
    if (!held.parts.some((part) => part.jetStreamName === draining)) {
      await this.#startPart(held, draining).catch(() => undefined); // no consumer there
    }
  }

  /**
   * Watches the stream a retention takeover left until each of its consumers has had every
   * event acknowledged, then stops pulling from it and deletes it. Every process that saw the
   * takeover runs this; the deletion is idempotent.
   */
  #watchDraining(stream: string, draining: string): void {
    if (this.#draining.get(stream) === draining) return;
    this.#draining.set(stream, draining);
    void (async () => {
      for (let failures = 0; !this.#closing; ) {
        try {
          for (const held of this.#held) if (held.stream === stream) await this.#ensureParts(held);
          const link = await this.#connector.connected({
            timeoutMs: this.settings.subscribeTimeoutMs,
          });
          if (await this.#provisioning.drained(link, stream, draining)) {
            for (const held of [...this.#held].filter((h) => h.stream === stream)) {
              const old = held.parts.filter((part) => part.jetStreamName === draining);
              await Promise.all(old.map((part) => this.#closePart(held, part)));
            }
            if (!this.#closing) await this.#provisioning.removeDrained(link, draining);
            break;
          }
          failures = 0;
        } catch (error) {
          if (failures++ === 0) {
            this.logger.warn({ err: error, stream, draining }, "checking a drained stream failed");
          }
        }
        await sleep(DRAIN_POLL_MS);
      }
      if (this.#draining.get(stream) === draining) this.#draining.delete(stream);
    })();
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
    const name = await this.#provisioning.currentName(link, stream);
    yield* readNatsArchive(link, stream, fromMs, toMs, name);
  }

  async retainStream(stream: string, retentionMs: number | undefined): Promise<void> {
    const link = await this.#connector.connected({ timeoutMs: this.settings.subscribeTimeoutMs });
    const { draining } = await this.#provisioning.retain(link, stream, retentionMs);
    if (draining !== undefined) this.#watchDraining(stream, draining);
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
      this.journeys.close();
      await Promise.all([...this.#subscriptions].map((s) => s.close(DEFAULT_GRACE_MS)));
      this.#subscriptions.clear();
      this.#held.clear();
      this.#outbox.flushAll();
      await this.#connector.close();
    })();
    return this.#closing;
  }
}
