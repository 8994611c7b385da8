/**
 * Validates a whole set of resources together (references are checked against the set) and
 * returns every problem, Knative-style: each with its field path, none hidden behind another.
 * Schema errors come from the CRDs; the rules in rules/ add what a schema cannot say. A rule's
 * finding at a path the schema already faulted is dropped, so one mistake reads as one issue.
 */
import { addressOf } from "./addresses.js";
import { CORE_KINDS, isCoreKind } from "./core-kinds.js";
import { inertWarning, isInertKind } from "./inert-kinds.js";
import { compareIssues, issueAt, type ValidationIssue } from "./issue.js";
import { checkAnnotations } from "./rules/annotations.js";
import { asFields, type Check, quote, type ResourceRule } from "./rules/check.js";
import { checkConfigMap } from "./rules/config-maps.js";
import { checkDelivery } from "./rules/delivery.js";
import { checkDestination } from "./rules/destination.js";
import { KIND_RULES } from "./rules/kinds.js";
import { checkSourceSpec } from "./rules/sources.js";
import { unknownKindMessage } from "./rules/unknown-kind.js";
import { knownKinds, schemaErrors } from "./schema.js";
import { type ServiceFlags, serviceLookup } from "./services.js";
import type { Resource } from "./types.js";

/** URL prefixes of the data plane (CONTRACT §3), so no namespace may take these names. */
const RESERVED_NAMESPACES = [
  "channels",
  "sources",
  "flows",
  "api",
  "ui",
  "sinks",
  "transforms",
  "requestreply",
] as const;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface ValidateOptions {
  /**
   * Rules kept beside a kind's runtime (the sources' rules, handed in by src/runtime/), run after
   * the schema and the built-in rules.
   */
  readonly rules?: Readonly<Record<string, ResourceRule>>;
  /** `eventail run --service` mappings: a Service mapped there needs no warning. */
  readonly services?: ServiceFlags;
}

const SOURCES_GROUP = "sources.knative.dev";

export function validateResources(
  resources: readonly Resource[],
  options: ValidateOptions = {},
): ValidationIssue[] {
  const index = new Map<string, Resource>();
  const issues: ValidationIssue[] = [];
  const addresses = new Map<string, Resource>();
  for (const resource of resources) {
    // Inert documents are never stored, so a repeat (two files declaring a Namespace) is harmless.
    if (isInertKind(resource.apiVersion, resource.kind)) continue;
    const { namespace, name } = resource.metadata;
    const key = keyOf(resource.kind, namespace, name);
    const first = index.get(key);
    if (first) {
      const message = `duplicate ${resource.kind}: first defined at ${where(first)}`;
      issues.push(issueAt(resource, "metadata.name", message));
      continue;
    }
    index.set(key, resource);
    // Every channel kind listens at /channels/{namespace}/{name}, so two cannot share a name.
    const address = addressOf({ kind: resource.kind, namespace, name }, "");
    if (address === undefined) continue;
    const holder = addresses.get(address);
    if (holder) {
      const message = `${address} is already the address of ${holder.kind} ${namespace}/${name} (${where(holder)})`;
      issues.push(issueAt(resource, "metadata.name", message));
    } else {
      addresses.set(address, resource);
    }
  }
  for (const resource of resources) issues.push(...validateOne(resource, index, options));
  return issues.sort(compareIssues);
}

function validateOne(
  resource: Resource,
  index: ReadonlyMap<string, Resource>,
  options: ValidateOptions,
): ValidationIssue[] {
  const schemaIssues: ValidationIssue[] = [];
  const ruleIssues: ValidationIssue[] = [];
  const check: Check = {
    resource,
    namespace: resource.metadata.namespace,
    exists: (kind, namespace, name) => index.has(keyOf(kind, namespace, name)),
    find: (kind, namespace, name) => index.get(keyOf(kind, namespace, name)),
    report: (path, message) => ruleIssues.push(issueAt(resource, path, message)),
    warn: (path, message) =>
      ruleIssues.push({ ...issueAt(resource, path, message), severity: "warning" }),
    serviceUrl: serviceLookup(
      options.services,
      (ns, name) => index.get(keyOf("ConfigMap", ns, name))?.data,
    ),
  };
  if (isInertKind(resource.apiVersion, resource.kind)) {
    const { namespace, name } = resource.metadata;
    const mapped = resource.kind === "Service" && check.serviceUrl(namespace, name) !== undefined;
    const warning = inertWarning(resource.kind, namespace, name, mapped);
    if (warning !== undefined) check.warn("", warning);
    return ruleIssues;
  }
  checkMetadata(check);
  if (!checkKind(check)) return ruleIssues;
  const errors = schemaErrors(resource.apiVersion, resource.kind, bodyOf(resource)) ?? [];
  for (const error of errors) schemaIssues.push(issueAt(resource, error.path, error.message));
  checkAnnotations(check);
  if (resource.kind === "ConfigMap") checkConfigMap(check);
  const spec = asFields(resource.spec);
  const rule = KIND_RULES[resource.kind];
  if (spec && rule) rule(check, spec);
  else if (spec) {
    if (knownKinds().get(resource.kind)?.group === SOURCES_GROUP) checkSourceSpec(check, spec);
    else if (spec["sink"] !== undefined) checkDestination(check, spec["sink"], "spec.sink");
    // Kinds without rules of their own (the other sources) still deliver: check what they name.
    if (spec["subscriber"] !== undefined) {
      checkDestination(check, spec["subscriber"], "spec.subscriber");
    }
    if (spec["delivery"] !== undefined) checkDelivery(check, spec["delivery"], "spec.delivery");
  }
  const extra = options.rules?.[resource.kind];
  if (extra) {
    try {
      extra(check, spec ?? {});
    } catch (error) {
      check.report(
        "",
        `the ${resource.kind} rules failed: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  const faulted = new Set(schemaIssues.map((issue) => issue.path));
  const seen = new Set<string>();
  return [...schemaIssues, ...ruleIssues.filter((issue) => !faulted.has(issue.path))].filter(
    (issue) => {
      const id = `${issue.path}\u0000${issue.message}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    },
  );
}

function checkMetadata(check: Check): void {
  const { name, namespace } = check.resource.metadata;
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    check.report(
      "metadata.name",
      `invalid name ${quote(name)}: lower-case letters, digits, '-' and '.', ` +
        "starting and ending with a letter or digit (at most 253)",
    );
  }
  if (namespace.length > 63 || !DNS1123_LABEL.test(namespace)) {
    check.report(
      "metadata.namespace",
      `invalid namespace ${quote(namespace)}: lower-case letters, digits and '-', ` +
        "starting and ending with a letter or digit (at most 63)",
    );
  } else if ((RESERVED_NAMESPACES as readonly string[]).includes(namespace)) {
    check.report(
      "metadata.namespace",
      `namespace ${quote(namespace)} is reserved (it is a URL prefix)`,
    );
  }
}

/** True when Eventail serves this apiVersion and kind; reports why not otherwise. */
function checkKind(check: Check): boolean {
  const { apiVersion, kind } = check.resource;
  const info = knownKinds().get(kind);
  if (!info) {
    const known = [...knownKinds().keys()].sort().join(", ");
    check.report("kind", unknownKindMessage(apiVersion, kind, known));
    return false;
  }
  if (!info.apiVersions.includes(apiVersion)) {
    check.report(
      "apiVersion",
      `${kind} is served as ${info.apiVersions.join(", ")}, not ${apiVersion}`,
    );
    return false;
  }
  return true;
}

/** What the schema sees: the spec of a CRD kind, the data fields of a core kind. */
function bodyOf(resource: Resource): Record<string, unknown> {
  if (!isCoreKind(resource.apiVersion, resource.kind)) return { spec: resource.spec ?? {} };
  const fields = resource as unknown as Record<string, unknown>;
  const body: Record<string, unknown> = {};
  for (const field of CORE_KINDS[resource.kind]!.fields) {
    if (fields[field] !== undefined) body[field] = fields[field];
  }
  return body;
}

function where(resource: Resource): string {
  return `${resource.origin.file}:${resource.origin.line}`;
}

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
