import type { IncomingHttpHeaders } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Dispatcher, SendResult } from "../../delivery/dispatcher.js";
import type { DeliveryOptions } from "../../delivery/options.js";
import { isRetryableStatus, retryDelayMs } from "../../delivery/retry-policy.js";
import type { CloudEvent } from "../../events/event.js";

export type Invocation =
  | {
      kind: "succeeded";
      status: number;
      headers: IncomingHttpHeaders;
      body: Buffer;
      attempts: number;
    }
  | { kind: "failed"; status?: number; error: string; attempts: number }
  | { kind: "shutdown"; attempts: number };

/**
 * Calls the subscriber until it answers 2xx, answers a status not worth retrying, or `attempts`
 * run out, waiting between attempts as the delivery policy says (backoff, Retry-After).
 *
 * Unlike Dispatcher.deliver this keeps any 2xx body, which is what a MessageQueueTrigger
 * publishes to its reply topic; each attempt is still one Dispatcher.send on its connection pool.
 */
export async function invokeSubscriber(
  dispatcher: Dispatcher,
  event: CloudEvent,
  url: string,
  options: DeliveryOptions,
  attempts: number,
  signal: AbortSignal,
  onAttempt: (code: number | "error" | "timeout") => void = () => undefined,
): Promise<Invocation> {
  const aborted = new Promise<"aborted">((resolve) => {
    if (signal.aborted) resolve("aborted");
    else signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  let last: { status?: number; error: string; retryAfter?: string | string[] } = {
    error: "not attempted",
  };
  for (let n = 1; n <= attempts; n++) {
    let result: SendResult | Error | "aborted";
    try {
      result = await Promise.race([
        dispatcher.send(event, url, { timeoutMs: options.timeoutMs, format: options.format }),
        aborted,
      ]);
    } catch (error) {
      result = error as Error;
    }
    if (result === "aborted") return { kind: "shutdown", attempts: n };
    if (result instanceof Error) {
      const timedOut = /timeout/i.test(result.message);
      onAttempt(timedOut ? "timeout" : "error");
      last = { error: result.message };
    } else {
      onAttempt(result.status);
      if (result.status >= 200 && result.status < 300) {
        return {
          kind: "succeeded",
          status: result.status,
          headers: result.headers,
          body: result.body,
          attempts: n,
        };
      }
      last = {
        status: result.status,
        error: `HTTP ${result.status}${result.body.length > 0 ? `: ${result.body.subarray(0, 256).toString("utf8")}` : ""}`,
        ...(result.headers["retry-after"] === undefined
          ? {}
          : { retryAfter: result.headers["retry-after"] }),
      };
      if (!isRetryableStatus(result.status))
        return { kind: "failed", ...withoutRetryAfter(last), attempts: n };
    }
    if (n === attempts) break;
    const delay = retryDelayMs(options, n, last.status, last.retryAfter);
    const waited = await sleep(delay, "waited", { signal }).catch(() => "aborted");
    if (waited === "aborted") return { kind: "shutdown", attempts: n };
  }
  return { kind: "failed", ...withoutRetryAfter(last), attempts };
}

function withoutRetryAfter(last: { status?: number; error: string }): {
  status?: number;
  error: string;
} {
  return last.status === undefined
    ? { error: last.error }
    : { status: last.status, error: last.error };
}
