/**
 * OpenTelemetry tracing (CONTRACT §7), behind a narrow interface. The SDK is loaded by dynamic
 * import only when an OTLP endpoint is configured; otherwise `activeTracing()` is undefined and
 * callers skip every span, so an untraced process only passes `traceparent` on.
 *
 * Trace context travels on the event (its `traceparent` extension), not in AsyncLocalStorage: an
 * event waits in a backing, maybe in another process, between its ingress and its deliveries.
 */

/** A started span; its `traceparent` is what goes on the event or request it covers. */
export interface TraceSpan {
  readonly traceparent: string;
  /** `status`: the HTTP status answered or received; `error`: why there was none, or a failure. */
  end(outcome?: { status?: number; error?: string }): void;
}

/** Where events entered: a broker, channel or flow ingress, or a trigger's reply re-entering. */
export interface IngressSpanFields {
  readonly namespace: string;
  readonly name: string;
  /** True for a reply re-entering its broker in-process (no HTTP request). */
  readonly reply?: boolean;
  readonly eventId?: string;
  readonly eventType?: string;
  readonly eventSource?: string;
}

/** One delivery attempt (the Dispatcher's). */
export interface AttemptSpanFields {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly url: string;
  /** An attempt to the dead-letter sink. */
  readonly deadLetter: boolean;
}

export interface Tracing {
  /** `parent`/`tracestate`: the incoming header values, joined when valid. */
  ingress(parent: unknown, tracestate: unknown, fields: IngressSpanFields): TraceSpan;
  attempt(parent: unknown, tracestate: unknown, fields: AttemptSpanFields): TraceSpan;
  /** Exports what is buffered and stops; spans started afterwards are not exported. */
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The process's tracing, or undefined when no OTLP endpoint is configured. */
export function activeTracing(): Tracing | undefined {
  return active;
}

type Environment = Readonly<Record<string, string | undefined>>;

/** The standard variables that turn trace export on; an empty value counts as unset. */
export function tracingConfigured(env: Environment): boolean {
  const set = (name: string) => (env[name] ?? "").trim() !== "";
  return set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
}

/**
 * Starts exporting spans when the environment configures an OTLP endpoint; returns whether it
 * did. The SDK reads the other OTEL_* variables (sampler, batch delays, headers) itself.
 */
export async function startTracing(env: Environment = process.env): Promise<boolean> {
  if (active !== undefined) return true;
  if (!tracingConfigured(env)) return false;
  const { createSdkTracing } = await import("./tracing-sdk.js");
  active = createSdkTracing();
  return true;
}

/** Flushes and stops the process's tracing, if any (shutdown, after the last delivery). */
export async function stopTracing(): Promise<void> {
  const tracing = active;
  active = undefined;
  await tracing?.shutdown();
}

/** Strips credentials from a destination URL before it becomes a span attribute. */
export function redactUrl(url: string): string {
  // Credentials sit before an "@": without one there is nothing to strip, and no URL to parse on
  // every delivery attempt.
  if (!url.includes("@")) return url;
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//");
  }
}
