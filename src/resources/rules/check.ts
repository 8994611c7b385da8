import type { Resource } from "../types.js";

/**
 * What a validation rule sees: the resource under check, every loaded resource, and a way to
 * report a problem at a field path. Rules read specs defensively (a value may have the wrong type,
 * which the schema reports) and report every problem they find rather than the first.
 */
export interface Check {
  readonly resource: Resource;
  readonly namespace: string;
  /** Whether a resource of this kind, namespace and name is loaded. */
  exists(kind: string, namespace: string, name: string): boolean;
  find(kind: string, namespace: string, name: string): Resource | undefined;
  report(path: string, message: string): void;
  /** Something that runs, but not as on a cluster: printed, never refusing the manifests. */
  warn(path: string, message: string): void;
  /** Where a Service is mapped (a `--service` flag or the `eventail-services` ConfigMap). */
  serviceUrl(namespace: string, name: string): string | undefined;
}

export type Fields = Readonly<Record<string, unknown>>;

/**
 * A kind's semantic rules (what its schema cannot say): the built-in ones in kinds.ts and those
 * kept beside a kind's runtime (the sources'), handed to validateResources.
 */
export type ResourceRule = (check: Check, spec: Fields) => void;

export function asFields(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Fields)
    : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function quote(value: string): string {
  return JSON.stringify(value);
}
