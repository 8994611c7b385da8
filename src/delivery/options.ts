import type { IncomingHttpHeaders } from "node:http";
import type { CloudEvent } from "../events/event.js";
import type { DeliveryPace } from "./pace.js";

/** A resolved `spec.delivery` (Knative's DeliverySpec with durations in milliseconds). */
export interface DeliveryOptions {
  /** Extra attempts; total = retry + 1. */
  retry: number;
  backoffPolicy: "linear" | "exponential";
  /** Default 200 (PT0.2S). */
  backoffDelayMs: number;
  /** Bounds each attempt, response body included; default 30000. */
  timeoutMs: number;
  /** Caps a 429/503 `Retry-After`; default 300000 (PT5M); 0 ignores the header. */
  retryAfterMaxMs: number;
  /** Resolved URL of the dead-letter sink. */
  deadLetterSink?: string;
  /** `json` delivers in structured mode. */
  format: "binary" | "json";
  /**
   * `eventail.io/delivery.max-backoff`: no backoff the policy computes waits longer. A
   * `Retry-After` the subscriber sent is still honoured, up to retryAfterMaxMs.
   */
  maxBackoffMs?: number;
  /** `eventail.io/delivery.rate`: spaces every attempt to the subscriber, retries included. */
  pace?: DeliveryPace;
}

/**
 * The Broker default: what a Trigger gets when neither it nor its Broker sets `spec.delivery`
 * (sources without one get it too). The retry policy is the one Knative ships in
 * config-br-defaults (10 retries, exponential from PT0.2S): about 3.4 minutes before giving up.
 */
export const DEFAULT_DELIVERY: DeliveryOptions = Object.freeze({
  retry: 10,
  backoffPolicy: "exponential",
  backoffDelayMs: 200,
  timeoutMs: 30_000,
  retryAfterMaxMs: 300_000,
  format: "binary",
});

/**
 * Who the delivery is for. Logs name it by kind (`trigger: t`, `subscription: s`, `sourceName: s`,
 * `transform: t` for an EventTransform's sink); the metrics put `name` in their `trigger` label,
 * the name CONTRACT §7 fixes for all of them.
 */
export interface DeliveryLabels {
  namespace: string;
  kind: "trigger" | "subscription" | "source" | "transform";
  name: string;
}

/** `reason` values of dropped outcomes; also the `reason` label of eventail_dropped_events_total. */
export type DropReason =
  /** Attempts ran out (or the status is not retried) and there is no dead-letter sink. */
  | "delivery-failed"
  /** The dead-letter sink failed too. */
  | "dead-letter-failed"
  /** The abort signal fired (or the dispatcher closed): not counted as dropped, the caller decides. */
  | "shutdown";

/**
 * The subscriber's answer to the last attempt, as Knative's DispatchInfo carries it. The body is
 * what the attempt kept, no more: a reply in full, the first 1 KiB of an error body, nothing for
 * a 2xx that carries no event unless the delivery asked for it (DeliveryControl.keepBody).
 */
export interface DeliveryResponse {
  /** Undefined when no response came back (connection error, timeout before the headers). */
  status?: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body was longer than what was kept. */
  truncated: boolean;
}

/** What an outcome carries when no attempt was made. */
export const NO_RESPONSE: DeliveryResponse = Object.freeze({
  headers: Object.freeze({}),
  body: Buffer.alloc(0),
  truncated: false,
});

export type DeliveryOutcome = DeliveryResponse &
  (
    | { kind: "delivered"; status: number; attempts: number }
    | { kind: "replied"; status: number; attempts: number; reply: CloudEvent }
    /**
     * `headers` and `body` are the subscriber's last answer, not the dead-letter sink's. `error`
     * says why no usable answer came back (connection error, timeout); absent when the
     * subscriber answered with a failing status.
     */
    | { kind: "dead-lettered"; attempts: number; error?: string }
    /** `reason` is a DropReason from the Dispatcher; other callers may add their own. */
    | { kind: "dropped"; attempts: number; reason: string; error?: string }
  );

export interface DeliveryControl {
  /** Shutdown: cancels backoff waits and in-flight attempts; the outcome is dropped/"shutdown". */
  signal?: AbortSignal;
  /** Called between attempts and every few seconds while the delivery runs (ack deadlines). */
  keepAlive?: () => void;
  /** Extra request headers (they win over the ones the dispatcher sets). */
  headers?: Record<string, string>;
  /**
   * Keep `knativebrokerttl` on the wire. Only for deliveries whose destination is a broker
   * ingress carrying a reply onwards, where the TTL is what stops loops.
   */
  keepBrokerTtl?: boolean;
  /** Keep a 2xx body (up to the reply limit) even when it carries no event. */
  keepBody?: boolean;
  /**
   * The delivery is what a request to Eventail is held open for (an EventTransform's sink, a
   * trigger carrying a RequestReply's request to its responder). The attempts holding those
   * requests may take every connection and slot to Eventail's own origin, so this one must not
   * queue behind them: it takes no slot and has connections of its own, unbounded (the requests
   * held open bound them, each waiting for one such delivery).
   */
  heldOpen?: boolean;
  /**
   * The caller has its own place for an event that fails (a MessageQueueTrigger's errorTopic)
   * and logs and counts it there: the dispatcher still returns dropped, but neither logs it nor
   * counts it in eventail_dropped_events_total.
   */
  failureHandled?: boolean;
  /**
   * What a dead letter carries when it is not the delivered event: a Subscription's reply that
   * `spec.reply` does not take dead-letters the event its subscriber got, as Knative's channel
   * dispatcher does (with `knativeerrordest` the reply URL).
   */
  deadLetterOf?: CloudEvent;
  /**
   * Told of every attempt at the subscriber (not at the dead-letter sink) once it ends: when it
   * started (epoch ms), the status or the error, and how long it took. Journeys use it.
   */
  onAttempt?: (
    at: number,
    status: number | undefined,
    error: string | undefined,
    ms: number,
  ) => void;
}
