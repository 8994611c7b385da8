/**
 * W3C Trace Context `traceparent` (version 00 and the forward-compatible rules for later
 * versions): parsed here rather than through the SDK's propagator so the hot path and the
 * untraced process never load OpenTelemetry.
 */

export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero. */
  readonly spanId: string;
  /** The trace-flags byte (bit 0: sampled). */
  readonly flags: number;
}

const HEX2 = /^[0-9a-f]{2}$/;
const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** A later version may append fields after the four it shares with 00. */
const LATER_VERSION = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/** The trace context a header value carries, or undefined when the value is not valid. */
export function parseTraceParent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.trim();
  const version = text.slice(0, 2);
  if (!HEX2.test(version) || version === "ff") return undefined;
  const match = (version === "00" ? VERSION_00 : LATER_VERSION).exec(text);
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags: Number.parseInt(flags, 16) };
}

/** The version 00 header value for a span. */
export function formatTraceParent(context: TraceParent): string {
  return `00-${context.traceId}-${context.spanId}-${(context.flags & 0xff).toString(16).padStart(2, "0")}`;
}

/** Whether two header values belong to the same trace (both valid, same trace id). */
export function sameTrace(a: unknown, b: unknown): boolean {
  const first = parseTraceParent(a);
  return first !== undefined && first.traceId === parseTraceParent(b)?.traceId;
}
