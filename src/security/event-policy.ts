/**
 * EventPolicy (eventing.knative.dev/v1alpha1) with Knative's semantics (pkg/auth/event_policy.go)
 * and CONTRACT §10's decision:
 * - A policy applies to the resources of its own namespace that `spec.to` selects: a `ref`
 *   (group, kind and name compared case-insensitively), a `selector` (group and kind, plus a label
 *   selector), or, with `to` empty, every resource of the namespace.
 * - A request to a resource some policy applies to is allowed when, for every event it carries,
 *   one of those policies lists the token's subject in `from` (a `sub`, exact or with a trailing
 *   `*` for a prefix, or a `ref` standing for that resource's OIDC subject; compared
 *   case-insensitively) and the event passes that policy's `filters`.
 * - A resource no policy applies to follows `default-authorization-mode`.
 */
import type { CloudEvent } from "../events/event.js";
import { groupOf } from "../resources/status.js";
import type { Resource } from "../resources/types.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import { compileFilter, type SubscriptionsApiFilter } from "../triggers/filter.js";
import { type LabelSelector, selectorMatches } from "./label-selector.js";
import { namespaceSubjectPrefix } from "./oidc-identity.js";

export type AuthorizationMode = "allow-same-namespace" | "allow-all" | "deny-all";

/** What a policy's `to` can select a resource as. */
export interface PolicyIdentity {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface FromReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string;
}

export interface EventPolicySpec {
  readonly to?: ReadonlyArray<{
    readonly ref?: { readonly apiVersion: string; readonly kind: string; readonly name: string };
    readonly selector?: LabelSelector & { readonly apiVersion?: string; readonly kind?: string };
  }>;
  readonly from?: ReadonlyArray<{
    readonly ref?: Omit<FromReference, "namespace"> & { readonly namespace?: string };
    readonly sub?: string;
  }>;
  readonly filters?: readonly SubscriptionsApiFilter[];
}

export interface CompiledPolicy {
  readonly name: string;
  readonly namespace: string;
  selects(identity: PolicyIdentity): boolean;
  allows(subject: string): boolean;
  passes(event: CloudEvent): boolean;
}

const same = (a: string | undefined, b: string) => (a ?? "").toLowerCase() === b.toLowerCase();

/**
 * Compiles a policy. `subjectsOf` gives the OIDC subjects a `from.ref` stands for (one for a
 * trigger or source; a flow's subscriptions for a Sequence or Parallel).
 */
export function compilePolicy(
  resource: Resource,
  subjectsOf: (ref: FromReference) => readonly string[],
): CompiledPolicy {
  const spec = (resource.spec ?? {}) as EventPolicySpec;
  const { name, namespace } = resource.metadata;
  const to = spec.to ?? [];
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const from of spec.from ?? []) {
    if (from.ref) {
      const ref = { ...from.ref, namespace: from.ref.namespace || namespace };
      for (const subject of subjectsOf(ref)) exact.add(subject.toLowerCase());
    } else if (typeof from.sub === "string" && from.sub !== "") {
      const sub = from.sub.toLowerCase();
      if (sub.endsWith("*")) prefixes.push(sub.slice(0, -1));
      else exact.add(sub);
    }
  }
  let passes: (event: CloudEvent) => boolean;
  try {
    const filter = compileFilter({ filters: [...(spec.filters ?? [])] }, compileCesqlPredicate);
    passes = (event) => filter.match(event);
  } catch {
    // Validation refuses such a policy; should one get here, it lets nothing through.
    passes = () => false;
  }
  return {
    name,
    namespace,
    selects(identity) {
      if (identity.namespace !== namespace) return false;
      if (to.length === 0) return true;
      return to.some(({ ref, selector }) => {
        if (ref) {
          return (
            same(ref.name, identity.name) &&
            same(groupOf(ref.apiVersion ?? ""), identity.group) &&
            same(ref.kind, identity.kind)
          );
        }
        if (selector) {
          return (
            same(groupOf(selector.apiVersion ?? ""), identity.group) &&
            same(selector.kind, identity.kind) &&
            selectorMatches(selector, identity.labels)
          );
        }
        return false;
      });
    },
    allows(subject) {
      const lower = subject.toLowerCase();
      return exact.has(lower) || prefixes.some((prefix) => lower.startsWith(prefix));
    },
    passes,
  };
}

/**
 * A policy Eventail applies on its own, as Knative's controllers create EventPolicies for the
 * channels inside a Sequence or Parallel: only the flow's own subscription may feed them.
 */
export function internalPolicy(
  name: string,
  namespace: string,
  subjects: readonly string[],
): CompiledPolicy {
  const allowed = new Set(subjects.map((s) => s.toLowerCase()));
  return {
    name,
    namespace,
    selects: () => false,
    allows: (subject) => allowed.has(subject.toLowerCase()),
    passes: () => true,
  };
}

/** The policies that apply to a resource known by any of `identities`, sorted by name. */
export function applyingPolicies(
  policies: readonly CompiledPolicy[],
  identities: readonly PolicyIdentity[],
): CompiledPolicy[] {
  return policies
    .filter((policy) => identities.some((identity) => policy.selects(identity)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export type Decision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: string; readonly eventIndex?: number };

const ALLOWED: Decision = Object.freeze({ allowed: true });

/** CONTRACT §10's authorization of one request whose token is valid. */
export function authorize(
  subject: string,
  namespace: string,
  applying: readonly CompiledPolicy[],
  mode: AuthorizationMode,
  events: readonly CloudEvent[],
): Decision {
  if (applying.length > 0) {
    const senders = applying.filter((policy) => policy.allows(subject));
    if (senders.length === 0) {
      const names = applying.map((p) => p.name).join(", ");
      return { allowed: false, reason: `${subject} is not allowed by the EventPolicies ${names}` };
    }
    for (const [index, event] of events.entries()) {
      if (!senders.some((policy) => policy.passes(event))) {
        return {
          allowed: false,
          reason: `event ${event.attributes.id} from ${subject} does not pass the filters of an EventPolicy that allows its sender`,
          eventIndex: index,
        };
      }
    }
    return ALLOWED;
  }
  switch (mode) {
    case "allow-all":
      return ALLOWED;
    case "deny-all":
      return {
        allowed: false,
        reason: "no EventPolicy applies and default-authorization-mode is deny-all",
      };
    default:
      return subject.startsWith(namespaceSubjectPrefix(namespace))
        ? ALLOWED
        : {
            allowed: false,
            reason: `no EventPolicy applies and ${subject} is not of namespace ${namespace} (default-authorization-mode allow-same-namespace)`,
          };
  }
}
