/**
 * The part of a resource's Knative `status` that addressing needs: `status.address.url` and
 * `status.address.audience`. Kept apart from the runtime's state so anything (ingress guard,
 * outbound tokens, the operations API) reads the same answer.
 */
import { addressOf } from "./addresses.js";

export interface AddressStatus {
  readonly url: string;
  /** Knative's OIDC audience of the address: `{group}/{kind}/{namespace}/{name}`, lower case. */
  readonly audience: string;
}

/** `eventing.knative.dev` of `eventing.knative.dev/v1`; "" for a core `v1`. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash === -1 ? "" : apiVersion.slice(0, slash);
}

/** Knative's audience form (pkg/auth GetAudience): the whole string lower-cased. */
export function audienceOf(group: string, kind: string, namespace: string, name: string): string {
  return `${group}/${kind}/${namespace}/${name}`.toLowerCase();
}

export interface AddressableResource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly namespace: string; readonly name: string };
}

/** The address of a resource, or undefined for a kind with none. */
export function addressStatus(
  resource: AddressableResource,
  baseUrl: string,
): AddressStatus | undefined {
  const { namespace, name } = resource.metadata;
  const url = addressOf({ kind: resource.kind, namespace, name }, baseUrl);
  if (url === undefined) return undefined;
  return {
    url,
    audience: audienceOf(groupOf(resource.apiVersion), resource.kind, namespace, name),
  };
}

/** One Knative condition (knative.dev/pkg apis.Condition). */
export interface Condition {
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason?: string;
  readonly message?: string;
  /** RFC 3339: when `status` last changed, as this process saw it. */
  readonly lastTransitionTime?: string;
}

/** The Knative-shaped `status` of a resource (CONTRACT §11); fields a kind has none of are absent. */
export interface ResourceStatus {
  readonly observedGeneration: number;
  readonly conditions: readonly Condition[];
  readonly address?: AddressStatus;
  readonly subscriberUri?: string;
  readonly replyUri?: string;
  readonly deadLetterSinkUri?: string;
  /** Sources: where they send (Knative's `status.sinkUri`). */
  readonly sinkUri?: string;
}

export interface ResourceWithStatus {
  readonly resource: import("./types.js").Resource;
  readonly status: ResourceStatus;
  /** RFC 3339: when this process first saw the resource (its `creationTimestamp` here). */
  readonly firstSeen: string;
}

/** What the operations API reads (the runtime's StatusBook implements it). */
export interface ResourceStatusReader {
  list(): ResourceWithStatus[];
  get(kind: string, namespace: string, name: string): ResourceWithStatus | undefined;
}
