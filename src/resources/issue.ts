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
  /** "warning": printed, but the manifest is still valid (a standalone limit, say). */
  readonly severity?: "warning";
}

/** True for a problem that makes the manifests invalid (anything but a warning). */
export function isError(issue: ValidationIssue): boolean {
  return issue.severity !== "warning";
}

/**
 * `file:line kind/namespace/name spec.path: message` (`... spec.path: warning: message` for a
 * warning), with `?` for what is unknown.
 */
export function formatIssue(issue: ValidationIssue): string {
  const who = `${issue.kind || "?"}/${issue.namespace || "?"}/${issue.name || "?"}`;
  const where = issue.path ? ` ${issue.path}` : "";
  const severity = isError(issue) ? "" : "warning: ";
  return `${issue.file}:${issue.line} ${who}${where}: ${severity}${issue.message}`;
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
export function issueAt(
  resource: Resource,
  path: string,
  message: string,
  severity?: "warning",
): ValidationIssue {
  return {
    file: resource.origin.file,
    line: lineOf(resource, path),
    kind: resource.kind,
    namespace: resource.metadata.namespace,
    name: resource.metadata.name,
    path,
    message,
    ...(severity ? { severity } : {}),
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
