import { type CloudEvent, withAttributes } from "../events/event.js";
import type { DeliveryOptions } from "./options.js";

/** Knative puts the first 1 KiB of the failing response body in knativeerrordata. */
export const ERROR_DATA_BYTES = 1024;

/** The last attempt that failed, as the dead letter describes it. */
export interface DeliveryFailure {
  /** The URL that failed. */
  url: string;
  /** The last HTTP status; undefined when no response came back (connection error, timeout). */
  status?: number;
  /** The start of the last response body. */
  body?: Buffer;
}

/**
 * The copy sent to the dead-letter sink: `knativeerrordest`, `knativeerrorcode` (absent without
 * a response) and `knativeerrordata` (base64 of the first 1024 body bytes, absent when empty).
 * Error extensions left by an earlier hop are replaced, never mixed with this failure's.
 */
export function deadLetterEvent(event: CloudEvent, failure: DeliveryFailure): CloudEvent {
  const body = failure.body;
  return withAttributes(event, {
    knativeerrordest: failure.url,
    knativeerrorcode: failure.status === undefined ? undefined : String(failure.status),
    knativeerrordata:
      body && body.length > 0 ? body.subarray(0, ERROR_DATA_BYTES).toString("base64") : undefined,
  });
}

/**
 * How the dead letter itself is delivered: 3 retries, exponential from the delivery's own
 * backoffDelay, same timeout and Retry-After cap, no dead letter of its own.
 */
export function deadLetterDelivery(options: DeliveryOptions): DeliveryOptions {
  return {
    retry: 3,
    backoffPolicy: "exponential",
    backoffDelayMs: options.backoffDelayMs,
    timeoutMs: options.timeoutMs,
    retryAfterMaxMs: options.retryAfterMaxMs,
    format: options.format,
  };
}
