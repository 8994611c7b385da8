/** When to try again and how long to wait (CONTRACT §4). */
import type { DeliveryOptions } from "./options.js";

/**
 * Retried statuses follow Knative: 404 and 409 because the subscriber may not be ready yet (a
 * route being programmed, a resource being created), 408/429 because the subscriber asked for
 * time, 5xx because the failure is on its side. Other 4xx will fail the same way again, and 3xx
 * is not followed (a subscriber address must be final).
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

/** Delay before retry k (k = 1, 2, …): linear backoffDelay × k, exponential backoffDelay × 2^(k−1). */
export function backoffMs(
  options: Pick<DeliveryOptions, "backoffPolicy" | "backoffDelayMs">,
  retry: number,
): number {
  if (options.backoffPolicy === "linear") return options.backoffDelayMs * retry;
  return options.backoffDelayMs * 2 ** (retry - 1);
}

/**
 * `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP-date. Undefined when the
 * header is absent or unreadable; a date in the past gives 0.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined,
  now = Date.now(),
): number | undefined {
  const text = (typeof value === "string" ? value : value?.[0])?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Every HTTP-date form starts with a day name; Date.parse alone would read "1.5" as a year.
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  // HTTP-dates are GMT; asctime form says so nowhere, and Date.parse would read it as local time.
  const date = Date.parse(/GMT|UTC/i.test(text) ? text : `${text} GMT`);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * The wait before retry k after a response with `status` (undefined when there was none):
 * the backoff, or the 429/503 `Retry-After` when longer, that one capped by retryAfterMaxMs.
 */
export function retryDelayMs(
  options: Pick<
    DeliveryOptions,
    "backoffPolicy" | "backoffDelayMs" | "retryAfterMaxMs" | "maxBackoffMs"
  >,
  retry: number,
  status: number | undefined,
  retryAfter: string | readonly string[] | undefined,
  now = Date.now(),
): number {
  const backoff = Math.min(backoffMs(options, retry), options.maxBackoffMs ?? Infinity);
  if ((status !== 429 && status !== 503) || options.retryAfterMaxMs <= 0) return backoff;
  const asked = parseRetryAfter(retryAfter, now);
  if (asked === undefined) return backoff;
  return Math.max(backoff, Math.min(asked, options.retryAfterMaxMs));
}
