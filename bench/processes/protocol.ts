/** What the bench's helper processes announce and answer (see sink.ts, loadgen.ts, relay.ts). */

export interface SinkReady {
  /** Base URL; triggers deliver to `${url}/t/${index}`. */
  readonly url: string;
}

export interface LoadgenReady {
  /** TCP port the sink reports its running delivery counts to. */
  readonly feedbackPort: number;
}

export interface RelayReady {
  readonly url: string;
}

/** One phase as the sink saw it. Times are monotonic microseconds (see clock.ts). */
export interface PhaseReport {
  readonly phase: string;
  /** Deliveries received. */
  readonly count: number;
  readonly lastUs: number;
  /** Distinct request paths, i.e. triggers that delivered. */
  readonly paths: number;
  readonly minPerPath: number;
  readonly maxPerPath: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

/** What the load generator sends: a small binary-mode CloudEvent to `url`. */
export interface LoadSpec {
  /** Ingress URL (a broker's, or the relay's). */
  readonly url: string;
  readonly phase: string;
  readonly durationMs: number;
  /** `ce-type` values, used in turn (one per trigger for the exact-filter scenario). */
  readonly types: readonly string[];
  /** Deliveries the sink gets per event (triggers that match each event). */
  readonly fanout: number;
  /** Extra request headers (the bearer token where authentication is on). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Body size in bytes instead of the ~200-byte order (the large-event measurements). */
  readonly payloadBytes?: number;
  /** Request paths on `url`'s origin, used in turn instead of its path (many brokers). */
  readonly paths?: readonly string[];
}

export interface OpenLoad extends LoadSpec {
  /** Events per second, sent on schedule whatever the responses do. */
  readonly rate: number;
}

export interface ClosedLoad extends LoadSpec {
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Events in flight end to end (sent, not yet at the sink) before the generator waits. */
  readonly window: number;
  /** Keep sending past durationMs until this many events went out (warm-ups: every type once). */
  readonly minEvents?: number;
}

export interface LoadResult {
  readonly sent: number;
  /** Answered 202. */
  readonly accepted: number;
  /** Other answers by status, and "error" for no answer. */
  readonly refused: Readonly<Record<string, number>>;
  readonly startUs: number;
  readonly endUs: number;
  /** Open loop: the longest the generator fell behind its schedule (its own load). */
  readonly maxLagUs: number;
}

export interface OtlpReceiverReady {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT names; traces are posted to `${url}/v1/traces`. */
  readonly url: string;
}

/** What the OTLP receiver took in so far. */
export interface OtlpReceived {
  readonly requests: number;
  readonly bytes: number;
  /** Spans counted in OTLP JSON bodies (protobuf bodies are not decoded). */
  readonly jsonSpans: number;
}
