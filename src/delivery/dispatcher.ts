import type { IncomingHttpHeaders } from "node:http";
import { performance } from "node:perf_hooks";
import { type CloudEvent, eventLogFields, withAttributes } from "../events/event.js";
import { decodeHttpResponse, encodeHttpRequest, mayCarryEvent } from "../events/http-binding.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import {
  type AttemptLimits,
  type AttemptRequest,
  type AttemptResult,
  type AttemptTarget,
  attempt,
  type WatchCancel,
} from "./attempt.js";
import { endAttemptSpan, replyInTrace, traceAttempt } from "./attempt-span.js";
import { CancelGroups } from "./cancel-group.js";
import { deadLetterDelivery, deadLetterEvent, ERROR_DATA_BYTES } from "./dead-letter.js";
import {
  type DeliveryControl,
  type DeliveryLabels,
  type DeliveryOptions,
  type DeliveryOutcome,
  type DropReason,
  NO_RESPONSE,
} from "./options.js";
import { OriginGates } from "./origin-gate.js";
import { RecentRequests } from "./recent-requests.js";
import { isRetryableStatus, retryDelayMs } from "./retry-policy.js";
import { TlsAgents, type TransportPolicy } from "./tls-agents.js";
import { Agent } from "./undici-agent.js";

export interface DispatcherOptions {
  metrics: Metrics;
  logger: Logger;
  /** Keep-alive connections per subscriber origin; default 128. */
  connectionsPerOrigin?: number;
  /** Largest reply body read; a longer one is ignored (logged). Default 1 MiB, the ingress limit. */
  maxReplyBytes?: number;
  /** How often control.keepAlive is called while a delivery runs; default 5000 ms. */
  keepAliveIntervalMs?: number;
  /**
   * Starts the wait before a retry; default setTimeout. Tests pass one that records the delay
   * the retry policy chose, so they assert the decision rather than the machine's speed.
   */
  startRetryTimer?: (resume: () => void, ms: number) => NodeJS.Timeout;
  /** transport-encryption and destinations' CACerts (tls-agents.ts); none: system CAs only. */
  transport?: TransportPolicy;
  /**
   * The `Authorization` header a delivery carries for whom it is (CONTRACT §10's outbound
   * tokens), dead letters included; asked per attempt, so a long retry sends a token still valid.
   * Undefined, or returning undefined, sends none.
   */
  credentials?: DeliveryCredentials;
}

/** The Authorization header value for a delivery by `sender` to `url`, or undefined. */
export type DeliveryCredentials = (sender: DeliveryLabels, url: string) => string | undefined;

export interface SendResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  reply?: CloudEvent;
}

/** Past this much response body the connection is cut rather than drained for reuse. */
const DRAIN_BYTES = 4 * 1024 * 1024;
const NO_CONTROL: DeliveryControl = Object.freeze({});
const ABORTED: AttemptResult = Object.freeze({
  error: "shutdown",
  message: "delivery aborted",
  headers: Object.freeze({}),
  body: Buffer.alloc(0),
  truncated: false,
});

function isSuccess(result: AttemptResult): boolean {
  return result.error === undefined && result.status! >= 200 && result.status! < 300;
}

function isRetryable(result: AttemptResult): boolean {
  if (result.error === "error" || result.error === "timeout") return true;
  return result.error === undefined && isRetryableStatus(result.status!);
}

/** The connection pools a delivery goes through: the plain one, and one per CA bundle. */
interface Pools {
  readonly agent: Agent;
  readonly tls: TlsAgents;
}

/**
 * The one way Eventail delivers an event over HTTP (triggers, subscriptions, flows, sources, dead
 * letters): CONTRACT §4's encoding, retries, backoff, Retry-After, timeouts and dead letters,
 * over one keep-alive connection pool.
 *
 * On the wire: binary mode (structured when `format: json`), `Prefer: reply`, the
 * `traceparent`/`tracestate` extensions also as the W3C headers (they stay `ce-` headers too, so
 * the subscriber sees the same event), and no `knativebrokerttl` (deliver only; send sends the
 * event as given).
 */
export class Dispatcher {
  private readonly pools: Pools;
  /** For DeliveryControl.heldOpen deliveries: made on first use, unbounded, never gated. */
  private heldOpenPools: Pools | undefined;
  private readonly transport: TransportPolicy | undefined;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly maxReplyBytes: number;
  private readonly targets = new Map<string, AttemptTarget | undefined>();
  private readonly replyLimits = new Map<number, AttemptLimits>();
  private readonly bodyLimits = new Map<number, AttemptLimits>();
  /** Cancels in-flight attempts and waits: on close() all of them, on a signal its own. */
  private readonly cancels = new CancelGroups();
  private readonly alive = new Set<DeliveryControl>();
  private readonly gates: OriginGates;
  /**
   * Binary-mode deliveries of an event, shared by the triggers it fans out to. Small on purpose:
   * every entry survives young-generation collections until it ages out, so a large cache makes
   * each scavenge copy and promote it, and those pauses are what p99 latency measures; a miss
   * costs only one encoding.
   */
  private readonly encoded = new RecentRequests<CloudEvent, AttemptRequest>(64);
  private readonly ticker: NodeJS.Timeout;
  private readonly startRetryTimer: (resume: () => void, ms: number) => NodeJS.Timeout;
  private readonly credentials: DeliveryCredentials | undefined;
  private closed: Promise<void> | undefined;
  /** How much of a response body a delivery keeps: an error body's start, or a whole reply. */
  private readonly keepBytes = (status: number, headers: IncomingHttpHeaders): number => {
    if (status < 200 || status > 299) return ERROR_DATA_BYTES;
    return mayCarryEvent(headers) ? this.maxReplyBytes : 0;
  };
  /** The same, but a 2xx body is kept whatever it is (DeliveryControl.keepBody). */
  private readonly keepBody = (status: number): number =>
    status < 200 || status > 299 ? ERROR_DATA_BYTES : this.maxReplyBytes;

  constructor(options: DispatcherOptions) {
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.maxReplyBytes = options.maxReplyBytes ?? 1024 * 1024;
    this.startRetryTimer = options.startRetryTimer ?? setTimeout;
    this.credentials = options.credentials;
    const connections = options.connectionsPerOrigin ?? 128;
    this.transport = options.transport;
    this.pools = {
      agent: new Agent({ connections, pipelining: 1 }),
      tls: new TlsAgents(options.transport, connections),
    };
    this.gates = new OriginGates(connections);
    this.ticker = setInterval(() => {
      for (const control of this.alive) {
        try {
          control.keepAlive!();
        } catch (error) {
          this.logger.warn({ err: error }, "keepAlive callback failed");
        }
      }
    }, options.keepAliveIntervalMs ?? 5000);
    this.ticker.unref();
  }

  /** Full delivery: attempts, retries with backoff, Retry-After, per-attempt timeout, dead letter. Never throws. */
  async deliver(
    event: CloudEvent,
    url: string,
    options: DeliveryOptions,
    labels: DeliveryLabels,
    control: DeliveryControl = NO_CONTROL,
  ): Promise<DeliveryOutcome> {
    const started = performance.now();
    if (control.keepAlive) this.alive.add(control);
    try {
      const request = this.prepare(event, options.format, control);
      const { last, attempts, traceparent } = await this.attempts(
        url,
        request,
        options,
        control,
        labels,
        labels,
      );
      if (last.error === "shutdown") return shutdown(last, attempts);
      if (!isSuccess(last))
        return this.giveUp(event, url, options, labels, control, last, attempts);
      return this.outcome(event, url, labels, last, attempts, traceparent);
    } catch (error) {
      // Only a bug gets here; the contract is that deliver never throws.
      this.logger.error({ ...eventLogFields(event), url, err: error }, "delivery crashed");
      return {
        kind: "dropped",
        attempts: 0,
        reason: "delivery-failed",
        error: "delivery crashed",
        ...NO_RESPONSE,
      };
    } finally {
      if (control.keepAlive) this.alive.delete(control);
      this.metrics.deliveryLatency.observe(
        labels.namespace,
        labels.name,
        (performance.now() - started) / 1000,
      );
    }
  }

  /**
   * One attempt, no retry (eventail send, sources that report status). Rejects when no response
   * came back (connection error, timeout).
   */
  async send(
    event: CloudEvent,
    url: string,
    options: {
      timeoutMs?: number;
      format?: "binary" | "json";
      headers?: Record<string, string>;
    } = {},
  ): Promise<SendResult> {
    const target = this.target(url);
    if (target === undefined) throw new Error(`invalid destination URL ${JSON.stringify(url)}`);
    const request = this.prepare(event, options.format ?? "binary", {
      keepBrokerTtl: true,
      headers: options.headers,
    });
    const maxReplyBytes = this.maxReplyBytes;
    const result = await this.attemptTo(
      target,
      request,
      {
        timeoutMs: options.timeoutMs ?? 30_000,
        drainBytes: DRAIN_BYTES,
        keepBytes: () => maxReplyBytes,
      },
      this.watcher(undefined),
    );
    if (result.error !== undefined) {
      throw new Error(`POST ${url} failed (${result.error}): ${result.message}`);
    }
    const reply = result.truncated
      ? undefined
      : decodeHttpResponse(result.status!, result.headers, result.body).event;
    return { status: result.status!, headers: result.headers, body: result.body, reply };
  }

  /** Cancels in-flight attempts and backoff waits (their outcome: dropped, "shutdown") and closes the pool. */
  close(): Promise<void> {
    if (this.closed === undefined) {
      clearInterval(this.ticker);
      this.cancels.root.fire();
      const pools = this.heldOpenPools ? [this.pools, this.heldOpenPools] : [this.pools];
      this.closed = Promise.all(
        pools.flatMap((pool) => [pool.agent.close(), pool.tls.close()]),
      ).then(() => {});
    }
    return this.closed;
  }

  /** A 2xx: delivered, or replied when it carries an event. */
  private outcome(
    event: CloudEvent,
    url: string,
    labels: DeliveryLabels,
    last: AttemptResult,
    attempts: number,
    traceparent: string | undefined,
  ): DeliveryOutcome {
    const status = last.status!;
    const { headers, body, truncated } = last;
    if (!mayCarryEvent(headers)) {
      return { kind: "delivered", status, attempts, headers, body, truncated };
    }
    const reply = truncated
      ? { invalid: `reply body over ${this.maxReplyBytes} bytes` }
      : decodeHttpResponse(status, headers, body);
    if (reply.event) {
      const event = replyInTrace(reply.event, traceparent);
      return { kind: "replied", status, attempts, reply: event, headers, body, truncated };
    }
    if (reply.invalid) {
      this.logger.warn(
        { ...eventLogFields(event), ...labelFields(labels), url, status, reason: reply.invalid },
        "subscriber reply ignored",
      );
    }
    return { kind: "delivered", status, attempts, headers, body, truncated };
  }

  /** Attempts until success, a status not worth retrying, shutdown, or options.retry runs out. */
  private async attempts(
    url: string,
    request: AttemptRequest,
    options: DeliveryOptions,
    control: DeliveryControl,
    countFor: DeliveryLabels | undefined,
    sender: DeliveryLabels,
  ): Promise<{ last: AttemptResult; attempts: number; traceparent?: string }> {
    const target = this.target(url);
    const gated = control.heldOpen !== true;
    const pools = gated ? this.pools : this.heldOpen();
    const agent =
      target === undefined
        ? pools.agent
        : pools.tls.agentFor(pools.agent, target, url, sender.namespace);
    const watch = this.watcher(control.signal);
    const limits = this.limitsFor(options.timeoutMs, control.keepBody === true);
    const total = options.retry + 1;
    /** The last attempt span's, which a reply joins (tracing on only). */
    let traceparent: string | undefined;
    for (let n = 1; ; n++) {
      let last: AttemptResult;
      // Clock reads only for a caller that listens: most deliveries pay nothing.
      const report = countFor === undefined ? undefined : control.onAttempt;
      const began = report === undefined ? 0 : Date.now();
      const clock = report === undefined ? 0 : performance.now();
      const paced = options.pace?.reserve() ?? 0;
      if (paced > 0 && !(await this.wait(paced, watch))) last = ABORTED;
      else if (target === undefined) last = invalidUrl(url);
      else if (agent === undefined) last = this.refuseCleartext(url, sender.namespace);
      else {
        // Inline rather than through attemptTo: one async frame less per delivery.
        const entry = gated ? this.gates.enter(target.origin, watch) : true;
        if (entry === true || (await entry)) {
          const authorization = this.credentials?.(sender, url);
          const sent =
            authorization === undefined
              ? request
              : { headers: { ...request.headers, authorization }, body: request.body };
          const traced = traceAttempt(sent, sender, url, n, countFor === undefined);
          last = await attempt(agent, target, traced?.request ?? sent, limits, watch);
          endAttemptSpan(traced, last);
          traceparent = traced?.span.traceparent;
          if (gated) this.gates.leave(target.origin);
        } else last = ABORTED;
      }
      if (report !== undefined && last.error !== "shutdown") {
        const ms = Math.round(performance.now() - clock);
        report(began, last.status, last.error === undefined ? undefined : last.message, ms);
      }
      if (countFor !== undefined && last.error !== "shutdown") {
        this.metrics.countAttempt(
          countFor.namespace,
          countFor.name,
          last.error === undefined
            ? String(last.status)
            : last.error === "timeout"
              ? "timeout"
              : "error",
        );
      }
      if (n >= total || isSuccess(last) || !isRetryable(last)) {
        return { last, attempts: n, traceparent };
      }
      control.keepAlive?.();
      const delay = retryDelayMs(options, n, last.status, last.headers["retry-after"]);
      if (!(await this.wait(delay, watch))) {
        return { last: { ...last, error: "shutdown", message: "delivery aborted" }, attempts: n };
      }
    }
  }

  private async giveUp(
    event: CloudEvent,
    url: string,
    options: DeliveryOptions,
    labels: DeliveryLabels,
    control: DeliveryControl,
    last: AttemptResult,
    attempts: number,
  ): Promise<DeliveryOutcome> {
    const status = last.status;
    const error = last.message ?? `HTTP ${status}`;
    const sink = options.deadLetterSink;
    // The event given up on: the one delivered, or the one whose reply it was.
    const lost = control.deadLetterOf ?? event;
    if (sink === undefined) {
      return this.drop(lost, labels, control, last, "delivery-failed", { url, attempts, error });
    }
    const letter = deadLetterEvent(lost, { url, status, body: last.body });
    const request = this.prepare(letter, options.format, NO_CONTROL);
    const dead = await this.attempts(
      sink,
      request,
      deadLetterDelivery(options),
      control,
      undefined,
      labels,
    );
    if (dead.last.error === "shutdown") return shutdown(last, attempts);
    if (!isSuccess(dead.last)) {
      return this.drop(lost, labels, control, last, "dead-letter-failed", {
        url,
        attempts,
        error,
        deadLetterSink: sink,
        deadLetterStatus: dead.last.status,
        deadLetterError: dead.last.message ?? `HTTP ${dead.last.status}`,
      });
    }
    this.metrics.deadLetters.inc({ namespace: labels.namespace, trigger: labels.name });
    this.logger.warn(
      {
        ...eventLogFields(lost),
        ...labelFields(labels),
        url,
        status,
        attempts,
        error,
        deadLetterSink: sink,
      },
      "delivery failed: event sent to the dead-letter sink",
    );
    return {
      kind: "dead-lettered",
      attempts,
      error: last.message,
      status,
      headers: last.headers,
      body: last.body,
      truncated: last.truncated,
    };
  }

  private drop(
    event: CloudEvent,
    labels: DeliveryLabels,
    control: DeliveryControl,
    last: AttemptResult,
    reason: DropReason,
    details: { url: string; attempts: number; error: string } & Record<string, unknown>,
  ): DeliveryOutcome {
    const status = last.status;
    if (control.failureHandled !== true) {
      this.metrics.droppedEvents.inc({ namespace: labels.namespace, reason });
      this.logger.error(
        { ...eventLogFields(event), ...labelFields(labels), reason, status, ...details },
        "delivery failed: event dropped",
      );
    }
    return {
      kind: "dropped",
      attempts: details.attempts,
      reason,
      error: last.message,
      status,
      headers: last.headers,
      body: last.body,
      truncated: last.truncated,
    };
  }

  /**
   * One attempt, once the origin has a free connection. The per-attempt timeout starts then:
   * waiting for a connection in this process is not the subscriber's time.
   */
  private async attemptTo(
    target: AttemptTarget,
    request: AttemptRequest,
    limits: AttemptLimits,
    watch: WatchCancel,
  ): Promise<AttemptResult> {
    const entry = this.gates.enter(target.origin, watch);
    if (entry !== true && !(await entry)) return ABORTED;
    const result = await attempt(this.pools.agent, target, request, limits, watch);
    this.gates.leave(target.origin);
    return result;
  }

  /** The pools of DeliveryControl.heldOpen deliveries: no limit of connections per origin. */
  private heldOpen(): Pools {
    // Closed: the shared pools refuse the attempt; new ones would never be closed.
    if (this.closed !== undefined) return this.pools;
    this.heldOpenPools ??= {
      agent: new Agent({ connections: null, pipelining: 1 }),
      tls: new TlsAgents(this.transport, null),
    };
    return this.heldOpenPools;
  }

  /**
   * Encodes once per delivery (once per event in binary mode, whatever the number of triggers);
   * every attempt reuses the same headers and body, which nobody modifies.
   */
  private prepare(
    event: CloudEvent,
    format: "binary" | "json",
    control: DeliveryControl,
  ): AttemptRequest {
    const shared = format === "binary" && control.headers === undefined && !control.keepBrokerTtl;
    if (shared) {
      const encoded = this.encoded.get(event);
      if (encoded !== undefined) return encoded;
    }
    const attributes = event.attributes;
    const stripTtl = attributes["knativebrokerttl"] !== undefined && control.keepBrokerTtl !== true;
    const structured = format === "json";
    const source =
      stripTtl && structured ? withAttributes(event, { knativebrokerttl: undefined }) : event;
    const { headers, body } = structured
      ? encodeHttpRequest(source, "structured")
      : encodeHttpRequest(event, "binary", stripTtl ? "knativebrokerttl" : undefined);
    headers["prefer"] = "reply";
    const traceparent = attributes["traceparent"];
    if (traceparent !== undefined) headers["traceparent"] = String(traceparent);
    const tracestate = attributes["tracestate"];
    if (tracestate !== undefined) headers["tracestate"] = String(tracestate);
    if (control.headers) Object.assign(headers, control.headers);
    const request = { headers, body };
    if (shared) this.encoded.set(event, request);
    return request;
  }

  private target(url: string): AttemptTarget | undefined {
    if (this.targets.has(url)) return this.targets.get(url);
    let target: AttemptTarget | undefined;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "http:" || parsed.protocol === "https:") {
        target = {
          origin: parsed.origin,
          path: parsed.pathname + parsed.search,
          secure: parsed.protocol === "https:",
        };
      }
    } catch {
      target = undefined;
    }
    // Subscriber URLs come from manifests: a bounded cache only guards against unbounded churn.
    if (this.targets.size >= 10_000) this.targets.clear();
    this.targets.set(url, target);
    return target;
  }

  /** transport-encryption strict: an http:// destination fails at once and is not retried. */
  private refuseCleartext(url: string, namespace: string): AttemptResult {
    const message = `transport-encryption is strict: refusing to deliver to ${url} (not https)`;
    this.logger.warn({ url, namespace }, message);
    return {
      error: "invalid-request",
      message,
      headers: {},
      body: Buffer.alloc(0),
      truncated: false,
    };
  }

  /** The attempt limits of a timeout, made once: deliveries share a few timeouts. */
  private limitsFor(timeoutMs: number, keepBody: boolean): AttemptLimits {
    const held = keepBody ? this.bodyLimits : this.replyLimits;
    let limits = held.get(timeoutMs);
    if (limits === undefined) {
      limits = Object.freeze({
        timeoutMs,
        drainBytes: DRAIN_BYTES,
        keepBytes: keepBody ? this.keepBody : this.keepBytes,
      });
      // Timeouts come from manifests: bounded only against unbounded churn.
      if (held.size >= 1_024) held.clear();
      held.set(timeoutMs, limits);
    }
    return limits;
  }

  /** Cancels on the caller's signal and on close(), with one listener per signal. */
  private watcher(signal: AbortSignal | undefined): WatchCancel {
    return (signal === undefined ? this.cancels.root : this.cancels.of(signal)).watch;
  }

  /** Resolves true after `ms`, false as soon as the delivery is cancelled. */
  private wait(ms: number, watch: WatchCancel): Promise<boolean> {
    return new Promise((resolve) => {
      let cancelled = false;
      let timer: NodeJS.Timeout | undefined;
      const unwatch = watch(() => {
        cancelled = true;
        clearTimeout(timer);
        resolve(false);
      });
      if (cancelled) return;
      timer = this.startRetryTimer(() => {
        unwatch();
        resolve(true);
      }, ms);
    });
  }
}

/** Cut short by the signal or close(); the last answer, if any, goes with it. */
function shutdown(last: AttemptResult, attempts: number): DeliveryOutcome {
  return {
    kind: "dropped",
    attempts,
    reason: "shutdown",
    status: last.status,
    headers: last.headers,
    body: last.body,
    truncated: last.truncated,
  };
}

/** A source goes by `sourceName`: `source` in a delivery's log line is the event's attribute. */
const LOG_FIELD = {
  trigger: "trigger",
  subscription: "subscription",
  source: "sourceName",
  transform: "transform",
};

/** How a log line names who the delivery was for: `trigger`, `subscription` or `sourceName`. */
function labelFields(labels: DeliveryLabels): Record<string, string> {
  return { namespace: labels.namespace, [LOG_FIELD[labels.kind]]: labels.name };
}

function invalidUrl(url: string): AttemptResult {
  return {
    error: "invalid-request",
    message: `invalid destination URL ${JSON.stringify(url)}`,
    headers: {},
    body: Buffer.alloc(0),
    truncated: false,
  };
}
