/**
 * The minimal status model of the addressable resources: `status.address` (url and audience) of
 * every resource the data plane serves, including the channels a Sequence or Parallel stands for,
 * with what EventPolicies need to select each one. The security guard and (next) the operations
 * API read it from here.
 */
import {
  expandParallel,
  expandSequence,
  parallelIngressChannelName,
  sequenceChannelName,
} from "../channels/flows.js";
import { addressOf } from "../resources/addresses.js";
import { DEFAULT_CHANNEL_TEMPLATE } from "../resources/defaults.js";
import { type AddressStatus, audienceOf, groupOf } from "../resources/status.js";
import type {
  ChannelSpec,
  ParallelResource,
  Resource,
  SequenceResource,
  SubscriptionSpec,
} from "../resources/types.js";
import type { Addressable } from "../security/address-book.js";
import type { FromReference, PolicyIdentity } from "../security/event-policy.js";
import { oidcSubject } from "../security/oidc-identity.js";

const SUBSCRIPTION_GROUP = "messaging.knative.dev";

function identity(resource: Resource): PolicyIdentity {
  const { namespace, name, labels } = resource.metadata;
  return {
    group: groupOf(resource.apiVersion),
    kind: resource.kind,
    namespace,
    name,
    ...(labels ? { labels } : {}),
  };
}

function addressable(
  resource: Resource,
  baseUrl: string,
  extra: Pick<Addressable, "alsoSelectedAs" | "internalSenders"> = {},
): Addressable | undefined {
  const { namespace, name } = resource.metadata;
  const path = addressOf({ kind: resource.kind, namespace, name }, "");
  if (path === undefined) return undefined;
  const own = identity(resource);
  return {
    ...own,
    path,
    address: {
      url: `${baseUrl.replace(/\/+$/, "")}${path}`,
      audience: audienceOf(own.group, own.kind, namespace, name),
    },
    ...extra,
  };
}

/** A generic Channel is also what its backing channel kind is (Knative's policies follow it). */
function backingIdentity(channel: Resource): PolicyIdentity {
  const template =
    (channel.spec as ChannelSpec | undefined)?.channelTemplate ?? DEFAULT_CHANNEL_TEMPLATE;
  return { ...identity(channel), group: groupOf(template.apiVersion), kind: template.kind };
}

function subscriptionSubject(subscription: Resource): string {
  const { namespace, name } = subscription.metadata;
  return oidcSubject(SUBSCRIPTION_GROUP, "Subscription", namespace, name);
}

/** The channels of one flow, each knowing which of the flow's subscriptions feed it. */
function flowAddressables(flow: Resource, derived: Resource[], baseUrl: string): Addressable[] {
  const { name } = flow.metadata;
  const entry =
    flow.kind === "Sequence" ? sequenceChannelName(name, 0) : parallelIngressChannelName(name);
  const feeders = new Map<string, string[]>();
  for (const resource of derived) {
    if (resource.kind !== "Subscription") continue;
    const reply = (resource.spec as SubscriptionSpec).reply?.ref;
    if (reply === undefined) continue;
    const senders = feeders.get(reply.name) ?? [];
    senders.push(subscriptionSubject(resource));
    feeders.set(reply.name, senders);
  }
  return derived.flatMap((resource) => {
    if (resource.kind === "Subscription") return [];
    const channelName = resource.metadata.name;
    const found = addressable(
      resource,
      baseUrl,
      channelName === entry
        ? { alsoSelectedAs: [identity(flow)] }
        : { internalSenders: feeders.get(channelName) ?? [] },
    );
    return found ? [found] : [];
  });
}

/** Every address the data plane serves for `resources`, by what `addressOf` knows. */
export function addressables(resources: readonly Resource[], baseUrl: string): Addressable[] {
  const out: Addressable[] = [];
  for (const resource of resources) {
    const extra =
      resource.kind === "Channel" ? { alsoSelectedAs: [backingIdentity(resource)] } : {};
    const found = addressable(resource, baseUrl, extra);
    if (found) out.push(found);
    if (resource.kind === "Sequence") {
      out.push(
        ...flowAddressables(resource, expandSequence(resource as SequenceResource), baseUrl),
      );
    } else if (resource.kind === "Parallel") {
      out.push(
        ...flowAddressables(resource, expandParallel(resource as ParallelResource), baseUrl),
      );
    }
  }
  return out;
}

/**
 * The OIDC subjects an EventPolicy `from.ref` stands for: the resource's own, or for a Sequence
 * or Parallel those of the subscriptions it is made of (Knative's `status.auth`).
 */
export function subjectsOf(resources: readonly Resource[]): (ref: FromReference) => string[] {
  return (ref) => {
    const group = groupOf(ref.apiVersion);
    const flow = resources.find(
      (r) =>
        (r.kind === "Sequence" || r.kind === "Parallel") &&
        r.kind.toLowerCase() === ref.kind.toLowerCase() &&
        r.metadata.namespace === ref.namespace &&
        r.metadata.name === ref.name,
    );
    if (flow) {
      const derived =
        flow.kind === "Sequence"
          ? expandSequence(flow as SequenceResource)
          : expandParallel(flow as ParallelResource);
      return derived.filter((r) => r.kind === "Subscription").map(subscriptionSubject);
    }
    return [oidcSubject(group, ref.kind, ref.namespace, ref.name)];
  };
}

/** `status.address` of one resource (a flow's channels included), or undefined for none. */
export function addressStatusOf(
  resources: readonly Resource[],
  baseUrl: string,
  kind: string,
  namespace: string,
  name: string,
): AddressStatus | undefined {
  return addressables(resources, baseUrl).find(
    (a) => a.kind === kind && a.namespace === namespace && a.name === name,
  )?.address;
}
