/**
 * Leadership on a lease, with the rules of client-go's leaderelection (and of src/kubernetes's
 * Lease election): the holder renews every third of the term; a holder that has not renewed for
 * two thirds of it steps down, so what only the leader runs has stopped before the lease can
 * expire and pass to another process. The lease itself (who holds it, its expiry) is the
 * engine's: see EngineLease.
 */
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { EngineLease } from "../backing/backing.js";
import type { Logger } from "../observability/logger.js";

/** What an election needs of a lease: an engine's (EngineLease) or the Kubernetes Lease. */
export type ElectionLease = Pick<
  EngineLease,
  "holder" | "tryAcquireOrRenew" | "release" | "onLost" | "maxSilenceMs"
>;

export interface LeaseElectionOptions {
  readonly lease: ElectionLease;
  readonly termMs: number;
  /** How often the leader renews and a follower checks (default a third of the term; keep it below two thirds). */
  readonly renewMs?: number;
  readonly logger: Logger;
  readonly onChange: (leader: boolean) => void;
}

/**
 * How long stop() waits for an attempt already sent: one that lands after it still hands the
 * lease back; against a hung engine stop() goes on without it (the lease then expires).
 */
const STOP_WAIT_MS = 1_000;

export class LeaseElection {
  private leader = false;
  /** The attempt under way: resolves true when it took or renewed the lease. */
  private inFlight: Promise<boolean> | undefined;
  private readonly stopping: { promise: Promise<void>; resolve: () => void };
  private timer: NodeJS.Timeout | undefined;
  /** Fires when the leader has gone two thirds of the term without renewing. */
  private deadline: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LeaseElectionOptions) {
    let resolve = () => {};
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    this.stopping = { promise, resolve };
    options.lease.onLost?.(() => {
      clearTimeout(this.deadline);
      this.setLeader(false);
    });
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /**
   * Starts taking part; resolves after the first attempt, so a lone process leads at once (or
   * when stopped first: stopping need not wait for an attempt on a hung engine).
   */
  async start(): Promise<void> {
    await Promise.race([this.tick(), this.stopping.promise]);
  }

  /** Stops taking part, stepping down before the lease is handed back (unless `release` is false). */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    this.stopping.resolve();
    const wasLeader = this.leader;
    this.setLeader(false);
    // An attempt sent before stop may still take the lease: hand it back too, rather than leave
    // it held a whole term by a process that no longer takes part.
    const landed = this.inFlight
      ? await Promise.race([this.inFlight, sleep(STOP_WAIT_MS, false, { ref: false })])
      : false;
    if ((!wasLeader && !landed) || !release) return;
    try {
      await this.options.lease.release();
    } catch (error) {
      this.options.logger.warn({ reason: (error as Error).message }, "lease release failed");
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    // The engine counts the term from when it sees the request, never before this instant.
    // Monotonic: a wall clock set back would keep a leader leading past its term.
    const asked = performance.now();
    const attempt = this.options.lease.tryAcquireOrRenew();
    this.inFlight = attempt.catch(() => false);
    try {
      let leader = await attempt;
      if (this.stopped) return;
      clearTimeout(this.deadline);
      // A timer rather than a check per tick: a request that hangs must not keep this process
      // leading past the moment another one may take over.
      const left = this.silenceMs() - (performance.now() - asked);
      if (leader && left > 0) {
        this.deadline = setTimeout(() => this.setLeader(false), left);
        this.deadline.unref();
      } else leader = false;
      this.setLeader(leader);
    } catch (error) {
      // The deadline armed at the last renewal steps a leader that cannot renew down.
      this.options.logger.warn({ reason: (error as Error).message }, "lease check failed");
    }
    if (this.stopped) return;
    const renewMs = Math.min(
      this.options.renewMs ?? Math.max(200, this.options.termMs / 3),
      // Renewed well within a lower silence limit, or the leader would step down between.
      this.silenceMs() / 2,
    );
    this.timer = setTimeout(() => void this.tick(), renewMs);
    this.timer.unref();
  }

  /** How long the leader may go without renewing: two thirds of the term, or the engine's less. */
  private silenceMs(): number {
    return Math.min((this.options.termMs * 2) / 3, this.options.lease.maxSilenceMs?.() ?? Infinity);
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.logger.info(
      { holder: this.options.lease.holder, leader },
      leader ? "became leader" : "no longer leader",
    );
    this.options.onChange(leader);
  }
}
