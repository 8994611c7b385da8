/**
 * What the ingress does with a request body it has read: a slot of the in-flight bound,
 * decoding, trace context, and the backing's acknowledgement.
 */
import { type CloudEvent, withAttributes } from "../events/event.js";
import { decodeHttpRequest } from "../events/http-binding.js";
import type { IngressTarget } from "../events/ingress-target.js";
import { type TracedEvents, traceIngress } from "../observability/ingress-spans.js";
import { activeTracing } from "../observability/tracing.js";
import { HttpError } from "./errors.js";

/** Bounds the events being accepted at once across every ingress of the process. */
export class InFlightLimit {
  private current = 0;
  constructor(readonly max: number) {}
  tryAcquire(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }
  release(): void {
    this.current--;
  }
}

/**
 * Decodes the request and hands its events to the target. Throws what toHttpError maps;
 * `rejected` learns the first decoded event of a request that failed after decoding, for the
 * log line. `authorize`, when given, sees the decoded events first and throws to refuse them.
 */
export async function acceptEvents(
  target: IngressTarget,
  capacity: InFlightLimit,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  rejected: (event: CloudEvent) => void,
  authorize?: (events: readonly CloudEvent[]) => void,
): Promise<void> {
  if (!capacity.tryAcquire()) {
    throw new HttpError("OVER_CAPACITY", "too many events in flight; retry later", {
      "retry-after": "1",
    });
  }
  let events: CloudEvent[] = [];
  let traced: TracedEvents | undefined;
  try {
    events = withTraceContext(decodeHttpRequest(headers, body).events, headers);
    const tracing = activeTracing();
    if (tracing !== undefined) {
      traced = traceIngress(tracing, events, target);
      events = traced.events;
    }
    authorize?.(events);
    await target.ingest(events);
    traced?.end({ status: 202 });
  } catch (error) {
    traced?.end({ error: error instanceof Error ? error.message : String(error) });
    if (events.length > 0) rejected(events[0]!);
    throw error;
  } finally {
    capacity.release();
  }
}

/**
 * W3C trace context arrives as transport headers; keeping it on the event as the distributed
 * tracing extension lets every later hop (backing, dispatcher) pass it on.
 */
/** Copies an incoming W3C `traceparent`/`tracestate` onto events that carry none (CONTRACT §4). */
export function withTraceContext(
  events: CloudEvent[],
  headers: Record<string, string | string[] | undefined>,
): CloudEvent[] {
  const traceparent = headers["traceparent"];
  if (typeof traceparent !== "string") return events;
  const tracestate = headers["tracestate"];
  return events.map((event) =>
    event.attributes["traceparent"] !== undefined
      ? event
      : withAttributes(event, {
          traceparent,
          ...(typeof tracestate === "string" ? { tracestate } : {}),
        }),
  );
}
