/**
 * How the reconciler runs every sink kind served at /sinks/{namespace}/{name}: `create` builds the
 * runtime for a resource (importing the kind's client library on first use), the SinkSet keeps it
 * in step with the store. Adding a sink kind = one entry in SINK_KINDS (kinds.ts), its CRD, and its
 * route in src/resources/addresses.ts.
 */
import type { SinkTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { Resource } from "../resources/types.js";

export interface SinkContext {
  readonly namespace: string;
  readonly name: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** A key of a Secret in the store (data base64-decoded, or stringData). */
  secretValue(namespace: string, name: string, key: string): string | undefined;
  /** Every key of a Secret, or undefined when there is no such Secret. */
  secret(namespace: string, name: string): Readonly<Record<string, string>> | undefined;
}

export interface RunnableSink extends SinkTarget {
  /**
   * Takes a new version of the resource in place, keeping what is running (a JobSink's jobs and
   * the record of what it ran). Kinds without it are closed and created again.
   */
  update?(resource: Resource, context: SinkContext): void;
  /** Stops taking events, lets or makes in-flight work end, releases connections. */
  close(): Promise<void>;
}

export interface SinkKind {
  readonly kind: string;
  create(resource: Resource, context: SinkContext): Promise<RunnableSink>;
}
