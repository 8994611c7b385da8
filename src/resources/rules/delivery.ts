import { parseIsoDuration } from "../duration.js";
import { childPath } from "../issue.js";
import { asFields, asString, type Check, quote } from "./check.js";
import { checkDestination } from "./destination.js";

/**
 * DeliverySpec, as Knative checks it: retry, backoffPolicy and format come from the schema;
 * durations must be ISO-8601, timeout above zero, and the dead-letter sink must resolve.
 */
export function checkDelivery(check: Check, value: unknown, at: string): void {
  const delivery = asFields(value);
  if (!delivery) return;
  if (delivery["deadLetterSink"] !== undefined) {
    checkDestination(check, delivery["deadLetterSink"], childPath(at, "deadLetterSink"));
  }
  for (const field of ["backoffDelay", "timeout", "retryAfterMax"]) {
    const text = asString(delivery[field]);
    if (text === undefined) continue;
    const ms = checkDuration(check, text, childPath(at, field));
    if (field === "timeout" && ms === 0)
      check.report(childPath(at, field), "must be greater than zero");
  }
}

/** Reports a malformed ISO-8601 duration; returns its length in ms when well-formed. */
export function checkDuration(check: Check, text: string, at: string): number | undefined {
  const ms = parseIsoDuration(text);
  if (ms !== undefined) return ms;
  if (text.startsWith("-") && parseIsoDuration(text.slice(1)) !== undefined) {
    check.report(at, `must not be negative (got ${quote(text)})`);
  } else {
    check.report(at, `invalid ISO-8601 duration ${quote(text)} (e.g. PT0.2S, PT5M, P1DT2H)`);
  }
  return undefined;
}
