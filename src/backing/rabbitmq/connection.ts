import { setTimeout as sleep } from "node:timers/promises";
import { type ChannelModel, connect } from "amqplib";
import type { Logger } from "../../observability/logger.js";
import { BackingUnavailableError } from "../backing.js";
import { type RabbitSettings, redact } from "./settings.js";

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * Keeps one AMQP connection for a backing: connects in the background (the backing exists while
 * RabbitMQ is down), reconnects with backoff after the engine closed it or its heartbeat went
 * silent, and tells listeners when it comes and goes so consumers can attach again. Channels
 * die with their connection; each user makes its own.
 */
export class RabbitConnector {
  #model: ChannelModel | undefined;
  #closed = false;
  #firstAttemptDone = false;
  /** The last connect attempt failed, and none has succeeded since. */
  #unreachable = false;
  readonly #stop = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly #listeners = new Set<(model: ChannelModel | undefined) => void>();
  readonly #run: Promise<void>;

  constructor(
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
  ) {
    this.#run = this.#keepConnected();
  }

  /** The connection if RabbitMQ is connected now, else undefined. */
  current(): ChannelModel | undefined {
    return this.#model;
  }

  /**
   * True while RabbitMQ is known unreachable: no connection, and the latest attempt to make one
   * failed. False right after a connection was lost, while the first reconnect is tried.
   */
  unreachable(): boolean {
    return this.#unreachable && !this.#model;
  }

  /** Like current(), but right after start-up waits (≤ timeoutMs) for the first attempt. */
  async modelNow(timeoutMs: number): Promise<ChannelModel | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#firstAttemptDone && !this.#closed && Date.now() < deadline) {
      await this.#changed(deadline - Date.now());
    }
    return this.#model;
  }

  /** Resolves once connected; rejects with BackingUnavailableError after `timeoutMs`. */
  async connected(
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ChannelModel> {
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      if (this.#model) return this.#model;
      if (this.#closed || options.signal?.aborted) {
        throw new BackingUnavailableError("the RabbitMQ backing is closed", "rabbitmq");
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BackingUnavailableError(
          `RabbitMQ at ${redact(this.settings.url)} is not reachable`,
          "rabbitmq",
        );
      }
      await this.#changed(left, options.signal);
    }
  }

  /** Called with the new connection on every connect, and undefined on every loss. */
  onChange(listener: (model: ChannelModel | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    const model = this.#model;
    this.#model = undefined;
    this.#notify();
    if (model) await withTimeout(model.close(), CLOSE_TIMEOUT_MS).catch(() => undefined);
    await this.#run;
  }

  async #keepConnected(): Promise<void> {
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        const model = await connect(this.#url(), { timeout: this.settings.publishTimeoutMs });
        if (signal.aborted) {
          await model.close().catch(() => undefined);
          return;
        }
        failures = 0;
        this.#unreachable = false;
        const lost = new Promise<void>((resolve) => {
          model.on("error", (error: Error) => {
            this.logger.warn({ err: error }, "RabbitMQ connection error");
          });
          model.on("close", () => resolve());
        });
        this.#model = model;
        this.#firstAttemptDone = true;
        this.logger.debug({ url: redact(this.settings.url) }, "connected to RabbitMQ");
        this.#notify();
        await lost;
        if (this.#model === model) this.#model = undefined;
        if (!signal.aborted) {
          this.logger.warn({ url: redact(this.settings.url) }, "RabbitMQ connection lost");
        }
        this.#notify();
      } catch (error) {
        this.#firstAttemptDone = true;
        this.#unreachable = true;
        (failures === 0 ? this.logger.warn : this.logger.debug).call(
          this.logger,
          { err: error, url: redact(this.settings.url) },
          "cannot connect to RabbitMQ; retrying",
        );
        this.#notify();
        const wait = Math.min(RETRY_MIN_MS * 2 ** failures, RETRY_MAX_MS);
        failures++;
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** The configured URL with the backing's heartbeat unless the URL sets its own. */
  #url(): string {
    const url = new URL(this.settings.url);
    if (!url.searchParams.has("heartbeat")) {
      url.searchParams.set("heartbeat", String(this.settings.heartbeatSeconds));
    }
    return url.toString();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
    for (const listener of [...this.#listeners]) {
      try {
        listener(this.#model);
      } catch (error) {
        this.logger.error({ err: error }, "RabbitMQ connection listener failed");
      }
    }
  }

  #changed(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      // No deadline (Infinity) means no timer: Node would fire an Infinity timer after 1 ms,
      // turning a wait for RabbitMQ into a busy loop while it is down.
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(done, Math.max(timeoutMs, 0))
        : undefined;
      this.#waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/** Races `work` against a timer; the error on expiry is BackingUnavailableError. */
export async function withTimeout<T>(work: Promise<T>, ms: number, what = "RabbitMQ"): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BackingUnavailableError(
            `${what}: RabbitMQ did not answer within ${ms} ms`,
            "rabbitmq",
          ),
        ),
      Math.max(ms, 0),
    );
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wraps any failure talking to RabbitMQ as BackingUnavailableError (kept as it is if already). */
export function unavailable(what: string, error: unknown): BackingUnavailableError {
  if (error instanceof BackingUnavailableError) return error;
  return new BackingUnavailableError(
    `${what}: ${error instanceof Error ? error.message : String(error)}`,
    "rabbitmq",
    { cause: error },
  );
}
