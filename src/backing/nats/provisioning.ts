import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerInfo,
  DeliverPolicy,
  DiscardPolicy,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "nats";
import type { Logger } from "../../observability/logger.js";
import type { NatsLink } from "./connection.js";
import { consumerFilter, durableName, jetStreamName, jetStreamSubjects } from "./naming.js";
import type { NatsSettings } from "./settings.js";

/** JetStream API error codes this file reacts to. */
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;

/** Publishes retried within this window with the same msgID are stored once. */
const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Several Eventail processes share one durable consumer; leave room for all their windows. */
const MAX_ACK_PENDING_FLOOR = 1_000;
const SHARING_PROCESSES = 16;

/** How long a consumer's stand-in outlives a process that died while replacing the consumer. */
const STAND_IN_LIFETIME_MS = 60_000;

interface EnsuredStream {
  readonly done: Promise<void>;
  /** Set once `done` resolved. */
  ready: boolean;
}

function apiErrorCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } } | undefined)?.api_error?.err_code;
}

/**
 * Creates (or brings up to date) the JetStream stream behind an Eventail stream and the durable
 * pull consumer behind each trigger or subscription. Both are idempotent, so every process may
 * run them; streams are remembered per connection so publishing costs no extra round trip.
 */
export class JetStreamProvisioning {
  readonly #streams = new WeakMap<NatsLink, Map<string, EnsuredStream>>();
  /** Streams with `eventail.io/retention` (ms): limits retention instead of interest. */
  readonly #retention = new Map<string, number>();

  constructor(
    private readonly settings: NatsSettings,
    private readonly logger: Logger,
  ) {}

  ensureStream(link: NatsLink, stream: string): Promise<void> {
    let known = this.#streams.get(link);
    if (!known) {
      known = new Map();
      this.#streams.set(link, known);
    }
    let ensured = known.get(stream);
    if (!ensured) {
      const entry: EnsuredStream = { done: this.#createOrUpdateStream(link, stream), ready: false };
      known.set(stream, entry);
      entry.done.then(
        () => {
          entry.ready = true;
        },
        () => {
          if (known.get(stream) === entry) known.delete(stream);
        },
      );
      ensured = entry;
    }
    return ensured.done;
  }

  /**
   * CONTRACT §5 retention for `stream`, then makes the stream match. A stream created with
   * retention uses limits retention (acks no longer remove events) with max_age = the usual
   * ceiling plus the retention, so an event stays at least that long after it was accepted.
   * NATS 2.9 refuses to change an existing stream's retention policy: adding (or removing)
   * retention on a running broker rejects with an error saying so, and the stream goes on as it
   * is. (Taking over with a new stream without losing an event is not built yet.)
   */
  async retain(link: NatsLink, stream: string, retentionMs: number | undefined): Promise<void> {
    const before = this.#retention.get(stream);
    if (before === retentionMs) return;
    if (retentionMs === undefined) this.#retention.delete(stream);
    else this.#retention.set(stream, retentionMs);
    this.forgetStream(link, stream);
    await this.ensureStream(link, stream);
    const name = jetStreamName(stream);
    const info = await link.jsm.streams.info(name);
    const wanted = retentionMs === undefined ? RetentionPolicy.Interest : RetentionPolicy.Limits;
    if (info.config.retention !== wanted) {
      // Asked again on the next reconcile, so the broker's status keeps saying why.
      if (before === undefined) this.#retention.delete(stream);
      else this.#retention.set(stream, before);
      throw new Error(
        `JetStream stream ${name} was created with ${info.config.retention} retention and NATS ` +
          `cannot change it in place: recreate the broker to ${retentionMs === undefined ? "drop" : "add"} eventail.io/retention`,
      );
    }
  }

  /** True when ensureStream() already succeeded on this link (and nothing forgot it since). */
  streamReady(link: NatsLink, stream: string): boolean {
    return this.#streams.get(link)?.get(stream)?.ready === true;
  }

  /** Forgets that a stream exists (it was deleted under us, or the engine lost its state). */
  forgetStream(link: NatsLink, stream: string): void {
    this.#streams.get(link)?.delete(stream);
  }

  /**
   * Makes sure the durable consumer exists. A new one starts at the next event published
   * (DeliverPolicy new), so once this resolves the consumer is positioned.
   */
  async ensureConsumer(
    link: NatsLink,
    stream: string,
    consumer: string,
    window: number,
    typeHint: string | undefined,
  ): Promise<void> {
    await this.ensureStream(link, stream);
    const name = jetStreamName(stream);
    const durable = durableName(consumer);
    const maxAckPending = Math.max(MAX_ACK_PENDING_FLOOR, window * SHARING_PROCESSES);
    const ackWait = nanos(this.settings.ackWaitMs);
    const inactiveThreshold = nanos(this.settings.maxAgeMs);
    // Type-filtered triggers let the engine skip other events instead of sending them here.
    const filter = consumerFilter(stream, typeHint);
    let existing: ConsumerInfo | undefined;
    try {
      existing = await link.jsm.consumers.info(name, durable);
    } catch (error) {
      const code = apiErrorCode(error);
      if (code === STREAM_NOT_FOUND) this.forgetStream(link, stream);
      if (code !== CONSUMER_NOT_FOUND) throw error;
    }
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      description: `Eventail consumer ${consumer} of ${stream}`,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.New,
      ack_wait: ackWait,
      max_deliver: -1,
      max_ack_pending: Math.max(existing?.config.max_ack_pending ?? 0, maxAckPending),
      ...(filter === undefined ? {} : { filter_subject: filter }),
      // A removed trigger's consumer would pin its unacked events until max_age; let it go then.
      inactive_threshold: inactiveThreshold,
    };
    if (!existing) {
      await link.jsm.consumers.add(name, config);
      this.logger.info({ stream: name, durable }, "created JetStream consumer");
      return;
    }
    const current = existing.config;
    const currentFilter = current.filter_subject || undefined;
    if (currentFilter !== filter) {
      await this.#replaceConsumer(link, name, durable, config, existing, filter);
      return;
    }
    // Only ever raise max_ack_pending: processes with different windows must not flap it.
    if (
      current.ack_wait !== ackWait ||
      current.inactive_threshold !== inactiveThreshold ||
      (current.max_ack_pending ?? 0) < maxAckPending
    ) {
      try {
        await link.jsm.consumers.update(name, durable, {
          ack_wait: ackWait,
          inactive_threshold: inactiveThreshold,
          max_ack_pending: config.max_ack_pending,
        });
        this.logger.info({ stream: name, durable }, "updated JetStream consumer");
      } catch (error) {
        // The consumer works as it is; a setting the engine refuses to change is not fatal.
        this.logger.warn(
          { err: error, stream: name, durable },
          "could not update JetStream consumer",
        );
      }
    }
  }

  /**
   * A changed filter is never updated in place: before 2.9.12 the engine keeps waking a consumer
   * only for events matching the filter it was created with (nats-server#3829), so events of the
   * new type sit unsent until a pull request's idle heartbeat, ~15 s later. The consumer is
   * deleted and added again instead, with a stand-in holding its place in between: under
   * interest retention the engine drops events no consumer wants, both on deleting a consumer
   * (its unfinished ones) and on publish (while the durable is missing).
   */
  async #replaceConsumer(
    link: NatsLink,
    name: string,
    durable: string,
    config: Partial<ConsumerConfig>,
    existing: ConsumerInfo,
    filter: string | undefined,
  ): Promise<void> {
    const position: Partial<ConsumerConfig> = {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: resumeSequence(existing, filter),
      ...(filter === undefined ? {} : { filter_subject: filter }),
    };
    // Upper case: no durable of ours has any, so the stand-in is nobody's consumer.
    const standIn = `${durable}_REFILTER`;
    const standInConfig: Partial<ConsumerConfig> = {
      durable_name: standIn,
      ack_policy: AckPolicy.Explicit,
      ...position,
      // Nobody pulls from it; should this process die mid-way, the engine removes it soon.
      inactive_threshold: nanos(STAND_IN_LIFETIME_MS),
    };
    await link.jsm.consumers.add(name, standInConfig).catch(async () => {
      // One left behind by an earlier attempt, placed elsewhere: ours replaces it.
      await deleteConsumer(link, name, standIn);
      await link.jsm.consumers.add(name, standInConfig);
    });
    try {
      await deleteConsumer(link, name, durable);
      try {
        await link.jsm.consumers.add(name, { ...config, ...position });
      } catch (error) {
        // Another process replaced it at the same moment; its consumer is as good as ours.
        const now = await link.jsm.consumers.info(name, durable).catch(() => undefined);
        if ((now?.config.filter_subject || undefined) !== filter) throw error;
      }
    } finally {
      await deleteConsumer(link, name, standIn).catch(() => undefined);
    }
    this.logger.info(
      { stream: name, durable, filter, startSeq: position.opt_start_seq },
      "replaced JetStream consumer to change its filter",
    );
  }

  /**
   * Deletes a trigger's durable consumer for good; under interest retention the engine then drops
   * the events no remaining consumer wants. The filter-change stand-in goes too, should a process
   * have died holding it.
   */
  async removeConsumer(link: NatsLink, stream: string, consumer: string): Promise<void> {
    const name = jetStreamName(stream);
    const durable = durableName(consumer);
    for (const target of [durable, `${durable}_REFILTER`]) {
      try {
        await deleteConsumer(link, name, target);
      } catch (error) {
        if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
        return;
      }
    }
    this.logger.info({ stream: name, durable }, "deleted JetStream consumer");
  }

  /** Deletes the stream with its events and consumers. */
  async removeStream(link: NatsLink, stream: string): Promise<void> {
    const name = jetStreamName(stream);
    this.forgetStream(link, stream);
    try {
      await link.jsm.streams.delete(name);
      this.logger.info({ stream: name }, "deleted JetStream stream");
    } catch (error) {
      if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
    }
  }

  async #createOrUpdateStream(link: NatsLink, stream: string): Promise<void> {
    const retentionMs = this.#retention.get(stream);
    const config: Partial<StreamConfig> = {
      name: jetStreamName(stream),
      subjects: [jetStreamSubjects(stream)],
      description: `Eventail ${stream}`,
      // Interest retention: an event leaves the stream once every consumer (trigger) acked it;
      // max_age bounds what consumers that no longer run would otherwise pin forever.
      retention: retentionMs === undefined ? RetentionPolicy.Interest : RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(this.settings.maxAgeMs + (retentionMs ?? 0)),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, this.settings.maxAgeMs)),
      num_replicas: this.settings.replicas,
    };
    try {
      await link.jsm.streams.add(config);
      return;
    } catch (error) {
      if (apiErrorCode(error) !== STREAM_NAME_IN_USE) throw error;
    }
    try {
      await link.jsm.streams.update(config.name!, config);
      this.logger.info({ stream: config.name }, "updated JetStream stream");
    } catch (error) {
      // Retention and storage cannot change in place; the stream still takes our events.
      this.logger.warn(
        { err: error, stream: config.name },
        "JetStream stream differs from the wanted configuration and cannot be updated; using it as is",
      );
    }
  }
}

async function deleteConsumer(link: NatsLink, name: string, durable: string): Promise<void> {
  try {
    await link.jsm.consumers.delete(name, durable);
  } catch (error) {
    if (apiErrorCode(error) !== CONSUMER_NOT_FOUND) throw error;
  }
}

/**
 * Where a consumer replaced for a new filter starts. Events the old one held unfinished (nak'd
 * by a closing subscription, or never acked) come again when the new filter can want them: it
 * is wider, or the old one had none. From one type to another they are of no use to the new
 * type, so it goes on after the last event delivered, as an update in place would.
 */
export function resumeSequence(existing: ConsumerInfo, filter: string | undefined): number {
  const oldFilter = existing.config.filter_subject || undefined;
  const mayWantUnfinished = filter === undefined || oldFilter === undefined;
  // The ack floor reads 0 until the first ack; with nothing pending, the last delivery is exact.
  if (mayWantUnfinished && existing.num_ack_pending > 0) return existing.ack_floor.stream_seq + 1;
  return existing.delivered.stream_seq + 1;
}
