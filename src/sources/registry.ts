/**
 * How the reconciler runs every source kind: it resolves `spec.sink` (or the kind's own
 * destination), builds the sink through the one Dispatcher, and starts what `create` returns.
 * Adding a source kind = one entry in SOURCE_KINDS (src/sources/kinds.ts) plus its CRD.
 */
import type { Dispatcher } from "../delivery/dispatcher.js";
import type { DeliveryOptions } from "../delivery/options.js";
import type { WebhookTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { Resource } from "../resources/types.js";
import type { EventSink, Source } from "./source.js";

export interface SourceContext {
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly dispatcher: Dispatcher;
  /** Resolved URL of `spec.sink` (undefined for kinds without one). */
  readonly sinkUrl?: string;
  /** `spec.delivery` resolved (defaults when absent). */
  readonly delivery: DeliveryOptions;
  /** Base URL of this Eventail process, e.g. http://127.0.0.1:8080. */
  readonly baseUrl: string;
  /** Resolves a destination written in this resource's namespace to a URL. */
  resolveDestination(destination: unknown): string;
  /** Resolves a delivery spec written in this resource's namespace. */
  resolveDelivery(spec: unknown): DeliveryOptions;
  /** A key of a Secret in the store (data base64-decoded, or stringData). */
  secretValue(namespace: string, name: string, key: string): string | undefined;
  /** Every key of a Secret in the store, or undefined when there is no such Secret. */
  secret(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
  /** Aborted when the source is stopped (reload, removal, shutdown). */
  readonly signal: AbortSignal;
}

export interface RunnableSource extends Source {
  /** Webhook sources also answer HTTP at /sources/{namespace}/{name}. */
  readonly webhook?: WebhookTarget;
  /** Sources that depend on a remote service say whether they can reach it (/readyz). */
  ready?(): boolean;
}

export interface SourceKind {
  readonly kind: string;
  /**
   * Only one replica may run it (the leader): it emits by itself (a schedule, a watch, a process
   * of its own) rather than passing on what is pushed to it or pulled from a shared queue, so
   * every event would be emitted once per replica; or it holds a session only one client may
   * have (MQTT's fixed client id: two replicas would take it from each other endlessly). A
   * function decides per resource.
   */
  readonly selfEmitting?: true | ((resource: Resource) => boolean);
  /** Imports the kind's code on first use (see kinds.ts) and builds the source. */
  create(resource: Resource, context: SourceContext): Promise<RunnableSource>;
}

export type { EventSink };
