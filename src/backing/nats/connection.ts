import { setTimeout as sleep } from "node:timers/promises";
import {
  connect,
  Events,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from "nats";
import type { Logger } from "../../observability/logger.js";
import { BackingUnavailableError } from "../backing.js";
import type { NatsSettings } from "./settings.js";

/** One live NATS connection with its JetStream clients; replaced wholesale if NATS closes it. */
export interface NatsLink {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

const RETRY_CONNECT_MS = 1_000;
const DRAIN_TIMEOUT_MS = 2_000;

/**
 * Keeps one connection to NATS for a backing: connects in the background (the backing exists
 * even while NATS is down), follows disconnects and reconnects, and tells callers whether the
 * engine is reachable right now so publish() can fail fast instead of buffering.
 */
export class NatsConnector {
  #link: NatsLink | undefined;
  #up = false;
  #closed = false;
  #firstAttemptDone = false;
  readonly #stop = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly #listeners = new Set<(up: boolean) => void>();
  readonly #run: Promise<void>;

  constructor(
    private readonly settings: NatsSettings,
    private readonly logger: Logger,
  ) {
    this.#run = this.#keepConnected();
  }

  /**
   * The link if NATS is connected now. Right after start-up, while the very first connection
   * attempt is still under way, waits for its outcome (at most `timeoutMs`) instead of
   * reporting the engine missing before it was even tried.
   */
  async linkNow(timeoutMs: number): Promise<NatsLink | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#firstAttemptDone && !this.#closed && Date.now() < deadline) {
      await this.#changed(deadline - Date.now());
    }
    return this.current();
  }

  /** The link when NATS is connected right now, else undefined. */
  current(): NatsLink | undefined {
    return this.#up ? this.#link : undefined;
  }

  /**
   * Resolves with the link once NATS is connected. Rejects with BackingUnavailableError after
   * `timeoutMs` (when given), and when the connector closes or `signal` aborts.
   */
  async connected(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<NatsLink> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const link = this.current();
      if (link) return link;
      if (this.#closed || options.signal?.aborted) {
        throw new BackingUnavailableError("the NATS backing is closed", "nats");
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BackingUnavailableError(
          `NATS at ${this.settings.servers.join(",")} is not reachable`,
          "nats",
        );
      }
      await this.#changed(left, options.signal);
    }
  }

  /** Calls `listener` whenever NATS becomes reachable or unreachable; returns an unsubscribe. */
  onChange(listener: (up: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return this.#run;
    this.#closed = true;
    this.#stop.abort();
    this.#wake();
    const nc = this.#link?.nc;
    if (nc && !nc.isClosed()) {
      // Drain flushes acks still in the outbound buffer; a hung engine must not hold close().
      await Promise.race([nc.drain().catch(() => undefined), sleep(DRAIN_TIMEOUT_MS)]);
      if (!nc.isClosed()) await nc.close().catch(() => undefined);
    }
    await this.#run;
  }

  async #keepConnected(): Promise<void> {
    let attempts = 0;
    while (!this.#closed) {
      let nc: NatsConnection;
      try {
        nc = await connect({
          servers: this.settings.servers,
          name: "eventail",
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          // A hung server is noticed within ~10 s and the client starts reconnecting.
          pingInterval: 5_000,
          maxPingOut: 2,
          timeout: 2_000,
          // Capturing a stack per request costs more than the request itself.
          noAsyncTraces: true,
        });
      } catch (error) {
        this.#firstAttemptDone = true;
        this.#wake();
        if (attempts++ === 0) {
          this.logger.warn(
            { err: error, servers: this.settings.servers },
            "NATS not reachable; retrying in the background",
          );
        }
        await this.#pause(RETRY_CONNECT_MS);
        continue;
      }
      if (this.#closed) {
        await nc.close();
        break;
      }
      attempts = 0;
      const timeout = this.settings.publishTimeoutMs;
      this.#link = {
        nc,
        js: nc.jetstream({ timeout }),
        jsm: await nc.jetstreamManager({ checkAPI: false, timeout }),
      };
      this.#firstAttemptDone = true;
      this.#setUp(true);
      this.logger.info({ servers: this.settings.servers }, "connected to NATS");
      void this.#followStatus(nc);
      const error = await nc.closed();
      this.#setUp(false);
      this.#link = undefined;
      if (!this.#closed) {
        this.logger.warn({ err: error }, "NATS connection closed; connecting again");
        await this.#pause(RETRY_CONNECT_MS);
      }
    }
  }

  async #followStatus(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === Events.Disconnect) {
        this.#setUp(false);
        this.logger.warn({ server: status.data }, "disconnected from NATS");
      } else if (status.type === Events.Reconnect) {
        this.#setUp(true);
        this.logger.info({ server: status.data }, "reconnected to NATS");
      }
    }
  }

  #setUp(up: boolean): void {
    const changed = this.#up !== up;
    this.#up = up;
    this.#wake();
    if (!changed) return;
    for (const listener of [...this.#listeners]) listener(up);
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves on the next connection change, after `ms`, or when `signal` aborts. */
  #changed(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
      signal?.addEventListener("abort", done, { once: true });
      this.#waiters.add(done);
    });
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#stop.signal }).catch(() => undefined);
  }
}
