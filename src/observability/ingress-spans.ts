/**
 * Ingress spans over CloudEvents: the span joins the `traceparent` an event arrived with, and the
 * event is stored carrying the span's, so its deliveries (later, perhaps in another process)
 * become the span's children.
 */
import { type CloudEvent, withAttributes } from "../events/event.js";
import type { TraceSpan, Tracing } from "./tracing.js";

export interface TracedEvents {
  readonly events: CloudEvent[];
  end(outcome?: { status?: number; error?: string }): void;
}

/**
 * One span per request; a batch whose events come from different traces gets one span per
 * trace context, so no event is moved into another's trace.
 */
export function traceIngress(
  tracing: Tracing,
  events: readonly CloudEvent[],
  where: { readonly namespace: string; readonly name: string; readonly reply?: boolean },
): TracedEvents {
  const spans = new Map<string, TraceSpan>();
  const traced = events.map((event) => {
    const { traceparent, tracestate } = event.attributes;
    const key = `${traceparent ?? ""}\n${tracestate ?? ""}`;
    let span = spans.get(key);
    if (span === undefined) {
      const { id, type, source } = event.attributes;
      span = tracing.ingress(traceparent, tracestate, {
        ...where,
        ...(id === undefined ? {} : { eventId: String(id) }),
        ...(type === undefined ? {} : { eventType: String(type) }),
        ...(source === undefined ? {} : { eventSource: String(source) }),
      });
      spans.set(key, span);
    }
    return withAttributes(event, { traceparent: span.traceparent });
  });
  return {
    events: traced,
    end(outcome) {
      for (const span of spans.values()) span.end(outcome);
    },
  };
}
