import type { CloudEvent } from "../events/event.js";

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
}

/**
 * What applies when `spec.delivery` is absent. The retry policy is the one Knative ships in
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

/** Who the delivery is for, as metrics and logs name it. */
export interface DeliveryLabels {
  namespace: string;
  /** The trigger or subscription (or source) name. */
  trigger: string;
}

/** `reason` values of dropped outcomes; also the `reason` label of eventail_dropped_events_total. */
export type DropReason =
  /** Attempts ran out (or the status is not retried) and there is no dead-letter sink. */
  | "delivery-failed"
  /** The dead-letter sink failed too. */
  | "dead-letter-failed"
  /** The abort signal fired (or the dispatcher closed): not counted as dropped, the caller decides. */
  | "shutdown";

export type DeliveryOutcome =
  | { kind: "delivered"; status: number; attempts: number }
  | { kind: "replied"; status: number; attempts: number; reply: CloudEvent }
  | { kind: "dead-lettered"; attempts: number; status?: number }
  /** `reason` is a DropReason from the Dispatcher; other callers may add their own. */
  | { kind: "dropped"; attempts: number; reason: string; status?: number };

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
}
