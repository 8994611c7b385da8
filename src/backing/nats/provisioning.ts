import { setTimeout as sleep } from "node:timers/promises";
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
import {
  consumerFilter,
  drainingSubjects,
  durableName,
  jetStreamName,
  jetStreamSubjects,
  takeoverJetStreamName,
  takeoverSubjects,
} from "./naming.js";
import type { NatsSettings } from "./settings.js";

/** JetStream API error codes this file reacts to. */
const STREAM_NAME_IN_USE = 10058;
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const SUBJECTS_OVERLAP = 10065;
const CONSUMER_NAME_EXISTS = 10013;
const CONSUMER_ALREADY_EXISTS = 10148;

/**
 * How long finding a stream's JetStream stream waits for a takeover's subject swap (two API
 * calls) before giving up; the caller's own deadline usually comes first.
 */
const SWAP_WAIT_MS = 5_000;
const SWAP_POLL_MS = 20;

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
  /** The JetStream stream holding the stream's subjects, once `done` resolved. */
  name?: string;
}

/** A filter change (another version of the trigger) is between deleting and adding it. */
export class ConsumerBeingReplacedError extends Error {
  constructor(durable: string) {
    super(`JetStream consumer ${durable} is being replaced for a new filter`);
    this.name = "ConsumerBeingReplacedError";
  }
}

/**
 * What ensureConsumer() found: the consumer is this subscription's, positioned at `resumeAt` at
 * the latest, or it belongs to a newer version of the trigger now.
 */
export type EnsuredConsumer =
  | { readonly superseded: false; readonly resumeAt: number }
  | { readonly superseded: true };

/** What retain() left behind: a stream taken over, whose consumers still drain it. */
export interface RetainOutcome {
  readonly draining?: string;
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
      const found = this.#createOrUpdateStream(link, stream);
      const entry: EnsuredStream = { done: found.then(() => undefined), ready: false };
      known.set(stream, entry);
      found.then(
        (name) => {
          entry.name = name;
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
   *
   * NATS 2.9 refuses to change an existing stream's retention policy, so adding retention to a
   * running broker takes over with a second stream (takeOver below): publishing moves to it at
   * once, and the old stream stays until its consumers drained it (RetainOutcome.draining; the
   * backing deletes it then). Dropping retention again is refused: the way back would need an
   * interest stream to exist before its filtered consumers can, and it would drop what arrives
   * in between.
   */
  async retain(
    link: NatsLink,
    stream: string,
    retentionMs: number | undefined,
  ): Promise<RetainOutcome> {
    const before = this.#retention.get(stream);
    if (before === retentionMs) return {};
    if (retentionMs === undefined) this.#retention.delete(stream);
    else this.#retention.set(stream, retentionMs);
    const restore = () => {
      // Asked again on the next reconcile, so the broker's status keeps saying why.
      if (before === undefined) this.#retention.delete(stream);
      else this.#retention.set(stream, before);
    };
    try {
      await this.#repairSwap(link, stream);
      this.forgetStream(link, stream);
      await this.ensureStream(link, stream);
      const name = this.activeName(link, stream);
      const info = await link.jsm.streams.info(name);
      const wanted = retentionMs === undefined ? RetentionPolicy.Interest : RetentionPolicy.Limits;
      if (info.config.retention === wanted) {
        const draining = await this.drainingStream(link, stream);
        return draining === undefined ? {} : { draining };
      }
      if (retentionMs === undefined || name === takeoverJetStreamName(stream)) {
        throw new Error(
          `JetStream stream ${name} was created with ${info.config.retention} retention and NATS ` +
            `cannot change it in place: recreate the broker to ${retentionMs === undefined ? "drop" : "add"} eventail.io/retention`,
        );
      }
      await this.#takeOver(link, stream, name);
      return { draining: name };
    } catch (error) {
      restore();
      throw error;
    }
  }

  /**
   * Moves `stream` from the interest stream `from` to a new limits stream: the new stream is
   * created on stand-in subjects, then the subjects swap (the old stream's go to a drained-only
   * name, the new one takes them), so every process's publishes land in the new stream from
   * that moment whatever it believes. A publish caught between the two updates finds no stream,
   * and the publisher retries it with the same msgID. Each consumer of the old stream gets a
   * twin on the new one starting at its first event, made right after the swap (a filtered one
   * cannot exist before the stream holds its subject) and caught up from sequence 1, so no
   * event published since the swap escapes it.
   */
  async #takeOver(link: NatsLink, stream: string, from: string): Promise<void> {
    const target = takeoverJetStreamName(stream);
    const config = this.#streamConfig(stream, target, takeoverSubjects(stream));
    try {
      await link.jsm.streams.add(config);
    } catch (error) {
      if (apiErrorCode(error) !== STREAM_NAME_IN_USE) throw error;
      // Left by a takeover that stopped before its swap: it holds none of our events.
      await link.jsm.streams.update(target, config);
    }
    await link.jsm.streams.update(from, { subjects: [drainingSubjects(stream)] });
    try {
      await link.jsm.streams.update(target, { subjects: [jetStreamSubjects(stream)] });
    } catch (error) {
      await link.jsm.streams
        .update(from, { subjects: [jetStreamSubjects(stream)] })
        .catch(() => undefined);
      throw error;
    }
    this.forgetStream(link, stream);
    await this.copyConsumers(link, from, target);
    this.logger.info(
      { stream, from, to: target },
      "retention added: JetStream stream taken over, the old one drains",
    );
  }

  /**
   * A takeover that stopped between its two subject updates left no stream holding the
   * stream's subjects: finish it (or undo it when the new stream is gone).
   */
  async #repairSwap(link: NatsLink, stream: string): Promise<void> {
    if ((await findStream(link, jetStreamSubjects(stream))) !== undefined) return;
    const draining = await findStream(link, drainingSubjects(stream));
    if (draining === undefined) return;
    try {
      await link.jsm.streams.update(takeoverJetStreamName(stream), {
        subjects: [jetStreamSubjects(stream)],
      });
    } catch (error) {
      if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
      await link.jsm.streams.update(draining, { subjects: [jetStreamSubjects(stream)] });
    }
  }

  /**
   * Gives every durable consumer of `from` a twin on `to` that starts at `to`'s first event;
   * one already there is kept. Run again while `from` drains, for a consumer that a process
   * not yet aware of the takeover made on `from`.
   */
  async copyConsumers(link: NatsLink, from: string, to: string): Promise<void> {
    const present = new Set<string>();
    for await (const info of await link.jsm.consumers.list(to)) {
      if (info.config.durable_name) present.add(info.config.durable_name);
    }
    for await (const info of await link.jsm.consumers.list(from)) {
      const durable = info.config.durable_name;
      if (!durable || durable.endsWith("_REFILTER") || present.has(durable)) continue;
      const {
        deliver_policy: _policy,
        opt_start_seq: _seq,
        opt_start_time: _time,
        ...rest
      } = info.config;
      try {
        await link.jsm.consumers.add(to, { ...rest, deliver_policy: DeliverPolicy.All });
      } catch (error) {
        const code = apiErrorCode(error);
        if (code !== CONSUMER_NAME_EXISTS && code !== CONSUMER_ALREADY_EXISTS) throw error;
      }
    }
  }

  /** The JetStream stream holding `stream`'s subjects now, without creating one. */
  async currentName(link: NatsLink, stream: string): Promise<string> {
    return (await findStream(link, jetStreamSubjects(stream))) ?? jetStreamName(stream);
  }

  async #drainingHas(link: NatsLink, stream: string, durable: string): Promise<boolean> {
    const draining = await this.drainingStream(link, stream);
    if (draining === undefined) return false;
    try {
      await link.jsm.consumers.info(draining, durable);
      return true;
    } catch {
      return false;
    }
  }

  /** The stream a takeover left draining for `stream`, if any. */
  drainingStream(link: NatsLink, stream: string): Promise<string | undefined> {
    return findStream(link, drainingSubjects(stream));
  }

  /**
   * True once every consumer of the draining stream has had each of its events acknowledged
   * (nothing publishes there any more), so deleting it loses nothing; also true when it is gone.
   */
  async drained(link: NatsLink, stream: string, draining: string): Promise<boolean> {
    try {
      await this.copyConsumers(link, draining, takeoverJetStreamName(stream));
      for await (const info of await link.jsm.consumers.list(draining)) {
        if (info.config.durable_name?.endsWith("_REFILTER")) continue;
        if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
      }
      return true;
    } catch (error) {
      if (apiErrorCode(error) === STREAM_NOT_FOUND) return true;
      throw error;
    }
  }

  /** Deletes a drained stream (drained() said so). */
  async removeDrained(link: NatsLink, draining: string): Promise<void> {
    try {
      // Consumers first: deleting one tells its waiting pull requests (409 Consumer Deleted),
      // so a process unaware of the takeover moves to the new stream at once; deleting only
      // the stream leaves some of them waiting for the missed-heartbeat check (~30 s).
      for await (const info of await link.jsm.consumers.list(draining)) {
        await deleteConsumer(link, draining, info.name);
      }
      await link.jsm.streams.delete(draining);
      this.logger.info({ stream: draining }, "deleted drained JetStream stream");
    } catch (error) {
      if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
    }
  }

  /**
   * The JetStream stream holding `stream`'s subjects as last found on this link: the plain
   * name unless retention was added to a running broker (takeOver).
   */
  activeName(link: NatsLink, stream: string): string {
    return this.#streams.get(link)?.get(stream)?.name ?? jetStreamName(stream);
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
   *
   * `recovering` is set by a running subscription whose consumer stopped answering. It never
   * undoes a newer subscriber's work: a consumer found with another filter belongs to a newer
   * version of the trigger (this process's or another's), so it is left alone and the answer is
   * `superseded`; a missing one whose filter-change stand-in exists is being replaced, so this
   * throws (the caller retries); a new subscriber finding it so finishes the replacement from the
   * stand-in's position. A consumer that is really gone comes back at `resumeAt`, where
   * the subscription stands, not at the next event published, which would skip those accepted
   * since it vanished.
   */
  async ensureConsumer(
    link: NatsLink,
    stream: string,
    consumer: string,
    window: number,
    typeHint: string | undefined,
    recovering?: { readonly resumeAt: number | undefined },
  ): Promise<EnsuredConsumer> {
    await this.ensureStream(link, stream);
    const name = this.activeName(link, stream);
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
      const standIn = await consumerInfo(link, name, standInName(durable));
      if (recovering && standIn) throw new ConsumerBeingReplacedError(durable);
      if (standIn) {
        // A filter change stopped between deleting and adding the durable (its subscribe failed,
        // or its process died): finish it from where the stand-in holds the place, or the events
        // since then would be skipped.
        config.deliver_policy = DeliverPolicy.StartSequence;
        // Its start, not its delivered sequence: nobody pulls from it, yet the engine moves that
        // past the events waiting for it.
        config.opt_start_seq = standIn.config.opt_start_seq ?? positionOf(standIn);
      } else if (
        name === takeoverJetStreamName(stream) &&
        (await this.#drainingHas(link, stream, durable))
      ) {
        // The trigger existed before retention was added: like the twin takeOver makes, it
        // starts at the new stream's first event, or it would miss those since the swap.
        config.deliver_policy = DeliverPolicy.All;
      } else if (recovering?.resumeAt !== undefined) {
        const last = (await link.jsm.streams.info(name)).state.last_seq;
        // A stream younger than our position was made again (the engine lost it): all of it.
        if (recovering.resumeAt > last + 1) config.deliver_policy = DeliverPolicy.All;
        else {
          config.deliver_policy = DeliverPolicy.StartSequence;
          config.opt_start_seq = recovering.resumeAt;
        }
      }
      const created = await link.jsm.consumers.add(name, config);
      this.logger.info(
        { stream: name, durable, deliverPolicy: config.deliver_policy },
        "created JetStream consumer",
      );
      if (standIn) await deleteConsumer(link, name, standInName(durable)).catch(() => undefined);
      return { superseded: false, resumeAt: positionOf(created) };
    }
    const current = existing.config;
    const currentFilter = current.filter_subject || undefined;
    if (currentFilter !== filter) {
      if (recovering) return { superseded: true };
      return {
        superseded: false,
        resumeAt: await this.#replaceConsumer(link, name, durable, config, existing, filter),
      };
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
    return { superseded: false, resumeAt: positionOf(existing) };
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
  ): Promise<number> {
    const position: Partial<ConsumerConfig> = {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: resumeSequence(existing, filter),
      ...(filter === undefined ? {} : { filter_subject: filter }),
    };
    const standIn = standInName(durable);
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
    return position.opt_start_seq ?? 1;
  }

  /**
   * Deletes a trigger's durable consumer for good; under interest retention the engine then drops
   * the events no remaining consumer wants. The filter-change stand-in goes too, should a process
   * have died holding it.
   */
  async removeConsumer(link: NatsLink, stream: string, consumer: string): Promise<void> {
    const durable = durableName(consumer);
    // A takeover leaves the consumer on both streams until the old one is drained.
    for (const name of [jetStreamName(stream), takeoverJetStreamName(stream)]) {
      for (const target of [durable, standInName(durable)]) {
        try {
          await deleteConsumer(link, name, target);
        } catch (error) {
          if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
          break;
        }
      }
    }
    this.logger.info({ stream, durable }, "deleted JetStream consumer");
  }

  /** Deletes the stream with its events and consumers. */
  async removeStream(link: NatsLink, stream: string): Promise<void> {
    this.forgetStream(link, stream);
    for (const name of [jetStreamName(stream), takeoverJetStreamName(stream)]) {
      try {
        await link.jsm.streams.delete(name);
        this.logger.info({ stream: name }, "deleted JetStream stream");
      } catch (error) {
        if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
      }
    }
  }

  #streamConfig(stream: string, name: string, subjects: string): StreamConfig {
    const retentionMs = this.#retention.get(stream);
    return {
      name,
      subjects: [subjects],
      description: `Eventail ${stream}`,
      // Interest retention: an event leaves the stream once every consumer (trigger) acked it;
      // max_age bounds what consumers that no longer run would otherwise pin forever.
      retention: retentionMs === undefined ? RetentionPolicy.Interest : RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(this.settings.maxAgeMs + (retentionMs ?? 0)),
      duplicate_window: nanos(Math.min(DUPLICATE_WINDOW_MS, this.settings.maxAgeMs)),
      num_replicas: this.settings.replicas,
    } as StreamConfig;
  }

  /**
   * Finds the JetStream stream holding `stream`'s subjects (the plain name, or the one that took
   * over when retention was added), creating the plain one when none does; returns its name.
   */
  async #createOrUpdateStream(link: NatsLink, stream: string): Promise<string> {
    const subjects = jetStreamSubjects(stream);
    const giveUpAt = Date.now() + SWAP_WAIT_MS;
    for (;;) {
      const found = await findStream(link, subjects);
      if (found !== undefined) {
        await this.#updateStream(link, this.#streamConfig(stream, found, subjects));
        return found;
      }
      const config = this.#streamConfig(stream, jetStreamName(stream), subjects);
      try {
        await link.jsm.streams.add(config);
        return config.name;
      } catch (error) {
        const code = apiErrorCode(error);
        if (code !== STREAM_NAME_IN_USE && code !== SUBJECTS_OVERLAP) throw error;
      }
      // Made by another process meanwhile (found next time round), or a takeover is between
      // its two subject updates.
      if (Date.now() > giveUpAt) {
        throw new Error(`no JetStream stream holds ${subjects} and ${config.name} is in use`);
      }
      await sleep(SWAP_POLL_MS);
    }
  }

  async #updateStream(link: NatsLink, config: StreamConfig): Promise<void> {
    // Never the subjects: a name found a moment ago may have just handed them over (takeOver).
    const { subjects: _subjects, ...settings } = config;
    try {
      await link.jsm.streams.update(config.name, settings);
    } catch (error) {
      // Retention and storage cannot change in place; the stream still takes our events.
      this.logger.warn(
        { err: error, stream: config.name },
        "JetStream stream differs from the wanted configuration and cannot be updated; using it as is",
      );
    }
  }
}

/** The stream whose subjects hold `subjects`, or undefined when none does. */
async function findStream(link: NatsLink, subjects: string): Promise<string | undefined> {
  try {
    return await link.jsm.streams.find(subjects);
  } catch (error) {
    if (/no stream matches subject/i.test((error as Error).message)) return undefined;
    throw error;
  }
}

async function consumerInfo(
  link: NatsLink,
  name: string,
  durable: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await link.jsm.consumers.info(name, durable);
  } catch (error) {
    if (apiErrorCode(error) === CONSUMER_NOT_FOUND) return undefined;
    throw error;
  }
}

/** Upper case: no durable of ours has any, so the stand-in is nobody's consumer. */
function standInName(durable: string): string {
  return `${durable}_REFILTER`;
}

/**
 * The first stream sequence a consumer may still owe someone: after its ack floor while events
 * are pending, else after its last delivery (the ack floor reads 0 until the first ack).
 */
function positionOf(info: ConsumerInfo): number {
  return (info.num_ack_pending > 0 ? info.ack_floor.stream_seq : info.delivered.stream_seq) + 1;
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
