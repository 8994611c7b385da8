/**
 * The span of one delivery attempt (CONTRACT §7): a child of the event's `traceparent`, and the
 * request it covers carries the span's own `traceparent`, as the W3C header and as the event's
 * extension, so the subscriber and any reply join the trace under this attempt.
 */
import { type CloudEvent, withAttributes } from "../events/event.js";
import { sameTrace } from "../observability/trace-context.js";
import { activeTracing, type TraceSpan } from "../observability/tracing.js";
import type { AttemptRequest, AttemptResult } from "./attempt.js";
import type { DeliveryLabels } from "./options.js";

export interface TracedAttempt {
  readonly request: AttemptRequest;
  readonly span: TraceSpan;
}

/** Undefined, at the cost of one call, when tracing is off. */
export function traceAttempt(
  request: AttemptRequest,
  sender: DeliveryLabels,
  url: string,
  attempt: number,
  deadLetter: boolean,
): TracedAttempt | undefined {
  const tracing = activeTracing();
  if (tracing === undefined) return undefined;
  const { traceparent, tracestate } = request.headers;
  const span = tracing.attempt(traceparent, tracestate, {
    namespace: sender.namespace,
    kind: sender.kind,
    name: sender.name,
    attempt,
    url,
    deadLetter,
  });
  return { request: carrying(request, span.traceparent), span };
}

export function endAttemptSpan(traced: TracedAttempt | undefined, result: AttemptResult): void {
  if (traced === undefined) return;
  traced.span.end(
    result.error === undefined
      ? { status: result.status! }
      : { error: result.error === "timeout" ? "timeout" : (result.message ?? result.error) },
  );
}

/**
 * A reply joins the attempt that fetched it: one that already belongs to the attempt's trace (the
 * subscriber echoed the extension, or traced its own work) is kept; any other is re-parented.
 */
export function replyInTrace(
  reply: CloudEvent,
  attemptTraceparent: string | undefined,
): CloudEvent {
  if (attemptTraceparent === undefined) return reply;
  if (sameTrace(reply.attributes["traceparent"], attemptTraceparent)) return reply;
  return withAttributes(reply, { traceparent: attemptTraceparent });
}

/** A copy of the request with the span's traceparent; the shared original stays as it was. */
export function carrying(request: AttemptRequest, traceparent: string): AttemptRequest {
  const headers: Record<string, string> = { ...request.headers, traceparent };
  const structured = (headers["content-type"] ?? "").startsWith("application/cloudevents+json");
  if (!structured) {
    headers["ce-traceparent"] = traceparent;
    return { headers, body: request.body };
  }
  return {
    headers,
    body: structuredWith(request.body, request.headers["traceparent"], traceparent),
  };
}

/**
 * Structured mode keeps the extension in the JSON body. The encoder writes the context attributes
 * before `data`, and a string value cannot hold an unescaped quote, so the first
 * `"traceparent":` is the attribute; the body is not parsed again (a parse would round large
 * numbers in `data`).
 */
function structuredWith(body: Buffer | undefined, old: string | undefined, traceparent: string) {
  if (body === undefined || body[0] !== 0x7b) return body;
  const text = body.toString("utf8");
  const member = `"traceparent":${JSON.stringify(traceparent)}`;
  if (old !== undefined) {
    const previous = `"traceparent":${JSON.stringify(old)}`;
    const at = text.indexOf(previous);
    if (at >= 0) {
      return Buffer.from(text.slice(0, at) + member + text.slice(at + previous.length), "utf8");
    }
  }
  const empty = /^\{\s*\}$/.test(text);
  return Buffer.from(`{${member}${empty ? "" : ","}${text.slice(1)}`, "utf8");
}
