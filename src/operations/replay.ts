/**
 * Replay (CONTRACT §11): the archived events of a broker with retention (section 5) in a time
 * window, delivered again to one of its triggers or all of them, each marked `eventailreplay`.
 * Deliveries go straight through each trigger's runtime (its filter, delivery rules and
 * dispatcher) rather than back into the broker, so naming one trigger disturbs no other.
 */
import { randomUUID } from "node:crypto";
import { setTimeout as sleep, setImmediate as yieldToLoop } from "node:timers/promises";
import type { Archive, ReplayRecord, ReplayStore } from "../backing/backing.js";
import { type CloudEvent, withAttributes } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";

/** The extension each replayed event carries: the replay's id. */
export const REPLAY_EXTENSION = "eventailreplay";

/** Events of one replay in delivery at once: enough to move, few enough to leave live traffic room. */
export const DEFAULT_REPLAY_CONCURRENCY = 8;

/**
 * Events of one replay started per second at most. Unpaced, a replay of a local archive ran at
 * ~9,700 events/s and took the CPU live deliveries needed (their p99 1.3 -> 3.3 ms on two
 * cores); a paced one leaves them room and still replays 100,000 events in under a minute.
 */
export const DEFAULT_REPLAY_RATE = 2_000;

/**
 * Archive entries read between two turns of the event loop. An archive iterated in one go (a
 * memory ring is all microtasks) held the loop for tens of ms, and live events waited that long.
 */
const READ_SLICE = 64;

/** Finished replays remembered for GET, oldest forgotten first. */
const KEPT_REPLAYS = 1_000;

/** How often a running replay writes its progress to a durable engine. */
const SAVE_EVERY_MS = 1_000;

/** A stored replay still "running" but not written for this long lost its process. */
const ABANDONED_AFTER_MS = 30_000;

export interface ReplayTrigger {
  readonly name: string;
  /** One event through the trigger's filter and delivery rules; resolves once it is handled. */
  replay(event: CloudEvent): Promise<void>;
}

/** A running broker as replay sees it. */
export interface ReplayTarget {
  readonly stream: string;
  /** Whether the Broker has `eventail.io/retention`. */
  readonly retained: boolean;
  /** Absent when its backing cannot read back what it keeps. */
  readonly archive?: Archive;
  readonly triggers: readonly ReplayTrigger[];
  /** Where its backing keeps replay progress (durable backings); absent: this process only. */
  readonly store?: ReplayStore;
}

export interface ReplayRequest {
  readonly namespace: string;
  readonly broker: string;
  /** RFC 3339. */
  readonly from: string;
  readonly to?: string;
  readonly trigger?: string;
  readonly filter?: string;
}

export interface ReplayStatus {
  readonly id: string;
  readonly state: "running" | "completed" | "failed";
  readonly sent: number;
  readonly total: number;
  /** Why it failed (state failed only). */
  readonly error?: string;
}

/** A request that cannot start; `reason` says which way. */
export class ReplayRefusedError extends Error {
  constructor(
    readonly reason: "invalid" | "not-found",
    message: string,
  ) {
    super(message);
    this.name = "ReplayRefusedError";
  }
}

export interface ReplayServiceDeps {
  /** The running broker, or undefined when it does not run here. */
  target(namespace: string, broker: string): ReplayTarget | undefined;
  /** Every durable store in use, asked for replays this process does not know (restarts). */
  stores(): readonly ReplayStore[];
  readonly logger: Logger;
  readonly concurrency?: number;
  /** Events started per second at most (DEFAULT_REPLAY_RATE). */
  readonly ratePerSecond?: number;
}

interface Running {
  id: string;
  state: ReplayStatus["state"];
  sent: number;
  total: number;
  error?: string;
  store?: ReplayStore;
}

export class ReplayService {
  private readonly replays = new Map<string, Running>();
  private readonly concurrency: number;
  private readonly rate: number;
  private readonly active = new Set<Promise<void>>();

  constructor(private readonly deps: ReplayServiceDeps) {
    this.concurrency = deps.concurrency ?? DEFAULT_REPLAY_CONCURRENCY;
    this.rate = deps.ratePerSecond ?? DEFAULT_REPLAY_RATE;
  }

  /** Checks the request and starts the replay in the background; returns its id. */
  start(request: ReplayRequest): string {
    const fromMs = parseTime("from", request.from);
    // Without `to`, the window ends now (this millisecond included): what arrives while it
    // runs is live, not replayed.
    const toMs = request.to === undefined ? Date.now() + 1 : parseTime("to", request.to);
    if (toMs < fromMs) throw new ReplayRefusedError("invalid", "to: must not be before from");
    let matches: ((event: CloudEvent) => boolean) | undefined;
    if (request.filter !== undefined && request.filter !== "") {
      try {
        const predicate = compileCesqlPredicate(request.filter);
        matches = (event) => predicate(event.attributes);
      } catch (error) {
        throw new ReplayRefusedError("invalid", `filter: ${(error as Error).message}`);
      }
    }
    const where = `${request.namespace}/${request.broker}`;
    const target = this.deps.target(request.namespace, request.broker);
    if (target === undefined) throw new ReplayRefusedError("not-found", `no broker ${where}`);
    if (!target.retained) {
      throw new ReplayRefusedError(
        "invalid",
        `broker ${where} keeps no events for replay: give it the annotation eventail.io/retention`,
      );
    }
    const archive = target.archive;
    if (archive === undefined) {
      throw new ReplayRefusedError(
        "invalid",
        `broker ${where}: its backing cannot read back archived events yet`,
      );
    }
    let triggers = target.triggers;
    if (request.trigger !== undefined) {
      triggers = triggers.filter((trigger) => trigger.name === request.trigger);
      if (triggers.length === 0) {
        throw new ReplayRefusedError(
          "not-found",
          `no trigger ${request.trigger} running on broker ${where}`,
        );
      }
    }
    const id = randomUUID();
    const state: Running = {
      id,
      state: "running",
      sent: 0,
      total: 0,
      ...(target.store ? { store: target.store } : {}),
    };
    this.remember(state);
    void this.save(state);
    const saving = target.store
      ? setInterval(() => void this.save(state), SAVE_EVERY_MS)
      : undefined;
    saving?.unref();
    const run = this.run(state, archive, target.stream, fromMs, toMs, triggers, matches).catch(
      (error: unknown) => {
        state.state = "failed";
        state.error = error instanceof Error ? error.message : String(error);
        this.deps.logger.error({ err: error, replay: id, broker: where }, "replay failed");
      },
    );
    const saved = run.finally(async () => {
      clearInterval(saving);
      await this.save(state);
    });
    this.active.add(saved);
    void saved.finally(() => this.active.delete(saved));
    this.deps.logger.info(
      { replay: id, broker: where, from: request.from, to: new Date(toMs).toISOString() },
      "replay started",
    );
    return id;
  }

  /** This process's replays first, then the durable stores (another process, or before a restart). */
  async status(id: string): Promise<ReplayStatus | undefined> {
    const state = this.replays.get(id);
    if (state === undefined) return this.stored(id);
    return {
      id: state.id,
      state: state.state,
      sent: state.sent,
      total: state.total,
      ...(state.error === undefined ? {} : { error: state.error }),
    };
  }

  private async stored(id: string): Promise<ReplayStatus | undefined> {
    for (const store of this.deps.stores()) {
      let record: ReplayRecord | undefined;
      try {
        record = await store.load(id);
      } catch (error) {
        this.deps.logger.warn({ err: error, replay: id }, "replay progress could not be read");
        continue;
      }
      if (record === undefined) continue;
      const { updatedAt: _, ...status } = record;
      if (record.state === "running" && Date.now() - record.updatedAt > ABANDONED_AFTER_MS) {
        return {
          ...status,
          state: "failed",
          error: "interrupted: the process replaying it stopped; start the replay again",
        };
      }
      return status;
    }
    return undefined;
  }

  private async save(state: Running): Promise<void> {
    if (state.store === undefined) return;
    try {
      await state.store.save({
        id: state.id,
        state: state.state,
        sent: state.sent,
        total: state.total,
        ...(state.error === undefined ? {} : { error: state.error }),
        updatedAt: Date.now(),
      });
    } catch (error) {
      this.deps.logger.debug({ err: error, replay: state.id }, "replay progress not saved");
    }
  }

  /** Resolves once every replay started so far has ended (for shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.active]);
  }

  private remember(state: Running): void {
    this.replays.set(state.id, state);
    if (this.replays.size <= KEPT_REPLAYS) return;
    for (const [id, old] of this.replays) {
      if (old.state === "running") continue;
      this.replays.delete(id);
      break;
    }
  }

  private async run(
    state: Running,
    archive: Archive,
    stream: string,
    fromMs: number,
    toMs: number,
    triggers: readonly ReplayTrigger[],
    matches: ((event: CloudEvent) => boolean) | undefined,
  ): Promise<void> {
    // A first pass counts, so progress has a total from the start.
    let read = 0;
    for await (const { event } of archive.read(stream, fromMs, toMs)) {
      if (matches === undefined || matches(event)) state.total++;
      if (++read % READ_SLICE === 0) await yieldToLoop();
    }
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const startedAt = performance.now();
    let released = 0;
    let selected = 0;
    for await (const { event } of archive.read(stream, fromMs, toMs)) {
      if (failure !== undefined) break;
      if (matches !== undefined && !matches(event)) {
        if (++read % READ_SLICE === 0) await yieldToLoop();
        continue;
      }
      selected++;
      // Paced: an event starts no sooner than its place at `rate` from the start.
      const early = startedAt + (released++ * 1000) / this.rate - performance.now();
      if (early > 1) await sleep(early);
      const marked = withAttributes(event, { [REPLAY_EXTENSION]: state.id });
      const delivery = Promise.all(triggers.map((trigger) => trigger.replay(marked))).then(
        () => {
          state.sent++;
        },
        (error: unknown) => {
          failure ??= error;
        },
      );
      inFlight.add(delivery);
      void delivery.finally(() => inFlight.delete(delivery));
      // The bound is what keeps a large replay from crowding out live deliveries.
      if (inFlight.size >= this.concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    // The second pass is what was replayed: entries the archive let go of after the count (a
    // full memory ring taking live events, retention) were not there to replay.
    state.total = selected;
    state.state = "completed";
    this.deps.logger.info({ replay: state.id, sent: state.sent }, "replay completed");
  }
}

function parseTime(field: string, text: unknown): number {
  // RFC 3339 needs a date, a time and an offset; Date.parse alone takes much looser text.
  if (
    typeof text !== "string" ||
    !/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(text)
  ) {
    throw new ReplayRefusedError("invalid", `${field}: must be an RFC 3339 time`);
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new ReplayRefusedError("invalid", `${field}: not a valid time`);
  return ms;
}
