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
  // The usual request holds one event: one span, no grouping by context.
  if (events.length === 1) {
    const event = events[0]!;
    const span = startSpan(tracing, event, where);
    return { events: [withAttributes(event, { traceparent: span.traceparent })], end: endOf(span) };
  }
  const spans = new Map<string, TraceSpan>();
  const traced = events.map((event) => {
    const { traceparent, tracestate } = event.attributes;
    const key = `${traceparent ?? ""}\n${tracestate ?? ""}`;
    let span = spans.get(key);
    if (span === undefined) {
      span = startSpan(tracing, event, where);
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

function startSpan(
  tracing: Tracing,
  event: CloudEvent,
  where: { readonly namespace: string; readonly name: string; readonly reply?: boolean },
): TraceSpan {
  const { traceparent, tracestate, id, type, source } = event.attributes;
  return tracing.ingress(traceparent, tracestate, {
    namespace: where.namespace,
    name: where.name,
    ...(where.reply === undefined ? {} : { reply: where.reply }),
    ...(id === undefined ? {} : { eventId: String(id) }),
    ...(type === undefined ? {} : { eventType: String(type) }),
    ...(source === undefined ? {} : { eventSource: String(source) }),
  });
}

function endOf(span: TraceSpan): TracedEvents["end"] {
  return (outcome) => span.end(outcome);
}
