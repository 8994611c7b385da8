import type { CloudEvent } from "./event.js";

/**
 * What the HTTP surfaces look up per request. The reconciler keeps it current as resources change,
 * so routes never hold on to a broker or channel that was removed.
 */
export interface IngressTarget {
  /** Label for metrics and logs, e.g. the broker name. */
  readonly name: string;
  readonly namespace: string;
  /** Largest request body accepted, in bytes. */
  readonly bodyLimit: number;
  /**
   * Stores the events; resolves once the backing has them. Throws the domain's errors
   * (EventValidationError, TtlExhaustedError, BackingUnavailableError, BackingFullError), which
   * server/ maps.
   */
  ingest(events: readonly CloudEvent[]): Promise<void>;
}

/** What a sink says about an event it took: headers for the 202 (a JobSink's `Location`). */
export interface SinkReceipt {
  readonly headers?: Readonly<Record<string, string>>;
}

/** The job a JobSink started for an event (GET at its `Location`). */
export interface JobStatus {
  readonly job: string;
  readonly state: "running" | "succeeded" | "failed";
  /** The path it is asked about at, Knative's `/namespaces/{ns}/name/{sink}/sources/{source}/ids/{id}`. */
  readonly location: string;
}

export interface SinkTarget {
  readonly namespace: string;
  readonly name: string;
  /**
   * Takes one event; resolves once it is handed on (stored, produced, started). Throws the
   * domain's errors (EventValidationError, BackingUnavailableError, BackingFullError,
   * SinkUnavailableError), which server/ maps.
   */
  receive(event: CloudEvent): Promise<SinkReceipt | undefined>;
  /** JobSink only: the job started for the event `source` + `id`, undefined when none was. */
  job?(source: string, id: string): JobStatus | undefined;
}

/** Why a webhook source refused a delivery; server/ maps each to its status and error code. */
export type WebhookRefusal =
  /** The signature or token does not verify, or the secret to check it is missing. */
  | "bad-signature"
  /** The request is not a delivery of the kind (a header missing, the payload not JSON). */
  | "invalid-delivery"
  /** The sink did not take the event: the sender should deliver it again. */
  | "sink-failed"
  /** The source is stopping or stopped. */
  | "stopped";

/** What a webhook source made of one delivery. */
export type WebhookOutcome =
  | { readonly outcome: "accepted"; readonly id: string }
  /** Fine, but nothing to forward (a ping, an event type not asked for). */
  | { readonly outcome: "ignored"; readonly reason: string }
  | { readonly outcome: "refused"; readonly refusal: WebhookRefusal; readonly reason: string };

/** The largest request a webhook source may take: its route reads no more than this. */
export const MAX_WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

/** A webhook source (GitHubSource and the like): gets the raw request, says what it made of it. */
export interface WebhookTarget {
  readonly namespace: string;
  readonly name: string;
  /** At most MAX_WEBHOOK_BODY_LIMIT. */
  readonly bodyLimit: number;
  handle(request: {
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }): Promise<WebhookOutcome>;
}

export type FlowKind = "sequences" | "parallels";

/** What a synchronous target answers: an event (200) or none (`status`, no body). */
export type ExchangeAnswer =
  | { readonly kind: "event"; readonly event: CloudEvent }
  | { readonly kind: "none"; readonly status: number };

/**
 * A target that answers each event with another (EventTransform, RequestReply): it throws the
 * domain's errors (server/ maps them) and stops waiting when `signal` fires (the client left).
 */
export interface ExchangeTarget {
  readonly namespace: string;
  readonly name: string;
  exchange(event: CloudEvent, signal: AbortSignal): Promise<ExchangeAnswer>;
}

export interface DataPlane {
  /** False once shutdown began: ingress answers 503 while in-flight deliveries drain. */
  isAccepting(): boolean;
  broker(namespace: string, name: string): IngressTarget | undefined;
  channel(namespace: string, name: string): IngressTarget | undefined;
  flow(namespace: string, kind: FlowKind, name: string): IngressTarget | undefined;
  sink(namespace: string, name: string): SinkTarget | undefined;
  webhook(namespace: string, name: string): WebhookTarget | undefined;
  /** EventTransform at /transforms/{namespace}/{name} (CONTRACT §2a). */
  transform?(namespace: string, name: string): ExchangeTarget | undefined;
  /** RequestReply at /requestreply/{namespace}/{name} (CONTRACT §2a). */
  requestReply?(namespace: string, name: string): ExchangeTarget | undefined;
  /** Readiness of every backing in use, by name. */
  readiness(): Promise<Record<string, boolean>>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
/**
 * What a sink's route reads at most: sinks take what brokers deliver, and an annotation may raise
 * a broker's ingress limit above the default.
 */
export const SINK_BODY_LIMIT = 64 * 1024 * 1024;
