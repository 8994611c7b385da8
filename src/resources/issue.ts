import type { Resource } from "./types.js";

/**
 * One problem found in a manifest, located precisely enough for an editor to jump to it.
 *
 * `line` is 1-based; 0 means the problem is about the path itself (missing file, unreadable
 * directory). `kind`, `namespace` and `name` are empty when the document could not be read far
 * enough to know them (a YAML syntax error, say).
 */
export interface ValidationIssue {
  readonly file: string;
  readonly line: number;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** Field path like `spec.filters[0].cesql`; empty when the problem is the whole document. */
  readonly path: string;
  readonly message: string;
  /**
   * Absent for an error (the manifests are refused). A warning is something that runs, but not
   * as it would on a cluster (a Service resolving to a cluster address, a SinkBinding whose
   * subject cannot be bound standalone): reported, never refusing the manifests.
   */
  readonly severity?: "warning";
}

/**
 * `file:line kind/namespace/name spec.path: message`, with `?` for what is unknown; a warning
 * reads `file:line kind/namespace/name spec.path warning: message`.
 */
export function formatIssue(issue: ValidationIssue): string {
  const who = `${issue.kind || "?"}/${issue.namespace || "?"}/${issue.name || "?"}`;
  const where = issue.path ? ` ${issue.path}` : "";
  const label = isWarning(issue) ? " warning" : "";
  return `${issue.file}:${issue.line} ${who}${where}${label}: ${issue.message}`;
}

export function isWarning(issue: ValidationIssue): boolean {
  return issue.severity === "warning";
}

/** The issues that refuse the manifests (warnings left out). */
export function errorsOf(issues: readonly ValidationIssue[]): ValidationIssue[] {
  return issues.filter((issue) => !isWarning(issue));
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Extends a field path the way Knative prints them: `spec.filters[0].exact`; map keys that are
 * not plain identifiers are bracketed (`metadata.annotations[eventail.io/delivery.order]`).
 */
export function childPath(parent: string, segment: string | number): string {
  if (typeof segment === "number") return `${parent}[${segment}]`;
  if (!IDENTIFIER.test(segment)) return `${parent}[${segment}]`;
  return parent ? `${parent}.${segment}` : segment;
}

/** Orders issues by file, then line, then path, so output is stable across runs. */
export function compareIssues(a: ValidationIssue, b: ValidationIssue): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** An issue about `path` in `resource`, on the line of that field (or its nearest parent). */
export function issueAt(resource: Resource, path: string, message: string): ValidationIssue {
  return {
    file: resource.origin.file,
    line: lineOf(resource, path),
    kind: resource.kind,
    namespace: resource.metadata.namespace,
    name: resource.metadata.name,
    path,
    message,
  };
}

function lineOf(resource: Resource, path: string): number {
  return nearestLine(resource.origin.fieldLines, path, resource.origin.line);
}

/** The line of `path`, else of its nearest parent that has one, else `fallback`. */
export function nearestLine(
  lines: ReadonlyMap<string, number> | undefined,
  path: string,
  fallback: number,
): number {
  let at = path;
  while (lines && at) {
    const line = lines.get(at);
    if (line !== undefined) return line;
    at = parentPath(at);
  }
  return fallback;
}

function parentPath(path: string): string {
  // A bracketed key may itself hold dots (`annotations[eventail.io/delivery.order]`).
  const cut = path.endsWith("]") ? path.lastIndexOf("[") : path.lastIndexOf(".");
  return cut <= 0 ? "" : path.slice(0, cut);
}
