/**
 * Knative's `status` of one resource (CONTRACT §11), worked out from the resource and what the
 * runtime knows of it: whether its broker or channel runs, whether its consumer is subscribed,
 * whether its destinations resolve. Pure: the runtime hands the facts in (StatusFacts), so a
 * table of facts tests every reason a user may read.
 */
import { CHANNEL_KINDS } from "../channels/channel.js";
import { isAddressableKind } from "../resources/addresses.js";
import { triggerBroker } from "../resources/broker-config.js";
import { isServiceRef } from "../resources/services.js";
import type { AddressStatus, Condition, ResourceStatus } from "../resources/status.js";
import type {
  DeliverySpec,
  Destination,
  Resource,
  SubscriptionSpec,
  TriggerSpec,
} from "../resources/types.js";
import { SOURCE_KINDS } from "../sources/kinds.js";

/** What the runtime says of one resource it runs (or tried to). */
export type RunState =
  | { readonly state: "running"; readonly ready?: boolean }
  /** Not running, for a reason a user understands (`reason` is a Knative-style CamelCase word). */
  | { readonly state: "failed"; readonly reason: string; readonly message: string }
  /** Not running here, and not for a fault: it runs elsewhere (another replica). */
  | { readonly state: "pending"; readonly reason: string; readonly message: string };

export interface StatusFacts {
  /** A resource by kind, namespace and name: the store's, or one a flow stands for. */
  find(kind: string, namespace: string, name: string): Resource | undefined;
  /** The URL a destination delivers to; throws (DestinationError) when it cannot resolve. */
  resolve(destination: Destination, namespace: string): string;
  /** `status.address` of an addressable resource. */
  address(resource: Resource): AddressStatus | undefined;
  /** What the runtime did with it; undefined when it has not (yet) tried. */
  run(resource: Resource): RunState | undefined;
}

const DEPENDENCY_ANNOTATION = "knative.dev/dependency";
const SOURCE_KINDS_RUN = new Set(SOURCE_KINDS.map((k) => k.kind));

const ok = (type: string, reason?: string, message?: string): Condition => ({
  type,
  status: "True",
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
});
const bad = (type: string, reason: string, message: string): Condition => ({
  type,
  status: "False",
  reason,
  message,
});
const unknown = (type: string, reason: string, message: string): Condition => ({
  type,
  status: "Unknown",
  reason,
  message,
});

/** `Ready` from the others: the first False explains it, else the first Unknown, else True. */
function withReady(conditions: Condition[]): Condition[] {
  const failed = conditions.find((c) => c.status === "False");
  const pending = conditions.find((c) => c.status === "Unknown");
  const cause = failed ?? pending;
  const ready: Condition = cause
    ? {
        type: "Ready",
        status: cause.status,
        ...(cause.reason ? { reason: cause.reason } : {}),
        ...(cause.message ? { message: cause.message } : {}),
      }
    : ok("Ready");
  return [ready, ...conditions];
}

/** A condition from a run state: running (and ready) is True, a failure False, nothing Unknown. */
function runCondition(type: string, state: RunState | undefined, what: string): Condition {
  if (state === undefined) return unknown(type, "NotReconciled", `${what} has not started yet`);
  if (state.state === "failed") return bad(type, state.reason, state.message);
  if (state.state === "pending") return unknown(type, state.reason, state.message);
  if (state.ready === false) return bad(type, "NotReady", `${what} runs but is not ready yet`);
  return ok(type);
}

interface Resolved {
  readonly uri?: string;
  readonly error?: string;
}

/**
 * A destination's URL, or why it has none. A ref to a kind Eventail serves must name a resource
 * that exists: its address alone would be a URL that answers 404.
 */
function resolveDestination(facts: StatusFacts, dest: Destination, namespace: string): Resolved {
  const { ref } = dest;
  if (ref && !isServiceRef(ref) && isAddressableKind(ref.kind)) {
    const refNamespace = ref.namespace || namespace;
    if (!facts.find(ref.kind, refNamespace, ref.name)) {
      return { error: `${ref.kind} ${refNamespace}/${ref.name} does not exist` };
    }
  }
  try {
    return { uri: facts.resolve(dest, namespace) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** A destination's condition, and its URL under `field` of the status when it resolves. */
function destinationCondition(
  facts: StatusFacts,
  type: string,
  what: string,
  dest: Destination | undefined,
  namespace: string,
): { condition?: Condition; uri?: string } {
  if (dest === undefined) return {};
  const resolved = resolveDestination(facts, dest, namespace);
  if (resolved.uri !== undefined) return { condition: ok(type), uri: resolved.uri };
  const reason = `${what[0]!.toUpperCase()}${what.slice(1).replace(/ (\w)/g, (_m, c: string) => c.toUpperCase())}NotResolved`;
  return { condition: bad(type, reason, `the ${what} does not resolve: ${resolved.error}`) };
}

function observedGeneration(resource: Resource): number {
  return resource.metadata.generation ?? 1;
}

/** `knative.dev/dependency: {"kind","name","apiVersion"}`: the dependency must exist. */
function dependencyCondition(facts: StatusFacts, resource: Resource): Condition | undefined {
  const text = resource.metadata.annotations?.[DEPENDENCY_ANNOTATION];
  if (text === undefined) return undefined;
  let ref: { kind?: unknown; name?: unknown; namespace?: unknown };
  try {
    ref = JSON.parse(text) as typeof ref;
  } catch {
    return bad("DependencyReady", "DependencyInvalid", `${DEPENDENCY_ANNOTATION} is not JSON`);
  }
  if (typeof ref.kind !== "string" || typeof ref.name !== "string") {
    return bad(
      "DependencyReady",
      "DependencyInvalid",
      `${DEPENDENCY_ANNOTATION} needs kind and name`,
    );
  }
  const namespace = typeof ref.namespace === "string" ? ref.namespace : resource.metadata.namespace;
  const found = facts.find(ref.kind, namespace, ref.name);
  if (!found) {
    return bad(
      "DependencyReady",
      "DependencyDoesNotExist",
      `${ref.kind} ${namespace}/${ref.name} does not exist`,
    );
  }
  return runCondition("DependencyReady", facts.run(found), `${ref.kind} ${namespace}/${ref.name}`);
}

function triggerStatus(facts: StatusFacts, trigger: Resource): Partial<ResourceStatus> {
  const spec = trigger.spec as TriggerSpec;
  const { namespace } = trigger.metadata;
  const brokerRef = triggerBroker(trigger as Resource<TriggerSpec>);
  const broker = facts.find("Broker", brokerRef.namespace, brokerRef.name);
  const conditions: Condition[] = [];
  if (!broker) {
    conditions.push(
      bad(
        "BrokerReady",
        "BrokerDoesNotExist",
        `Broker ${brokerRef.namespace}/${brokerRef.name} does not exist`,
      ),
    );
  } else {
    const state = facts.run(broker);
    const condition = runCondition("BrokerReady", state, `Broker ${brokerRef.name}`);
    conditions.push(
      condition.status === "True"
        ? condition
        : {
            ...condition,
            reason: "BrokerNotReady",
            message: `Broker ${brokerRef.name}: ${condition.message}`,
          },
    );
  }
  const subscriber = destinationCondition(
    facts,
    "SubscriberResolved",
    "subscriber",
    spec.subscriber,
    namespace,
  );
  if (subscriber.condition) conditions.push(subscriber.condition);
  const dependency = dependencyCondition(facts, trigger);
  if (dependency) conditions.push(dependency);
  const delivery: DeliverySpec | undefined =
    spec.delivery ?? (broker?.spec as { delivery?: DeliverySpec } | undefined)?.delivery;
  const deadLetter = destinationCondition(
    facts,
    "DeadLetterSinkResolved",
    "dead letter sink",
    delivery?.deadLetterSink,
    namespace,
  );
  if (deadLetter.condition) conditions.push(deadLetter.condition);
  // Only a trigger whose references hold can be subscribed: its consumer tells the rest.
  if (!conditions.some((c) => c.status === "False")) {
    conditions.push(runCondition("SubscriptionReady", facts.run(trigger), "its consumer"));
  }
  return {
    conditions: withReady(conditions),
    ...(subscriber.uri ? { subscriberUri: subscriber.uri } : {}),
    ...(deadLetter.uri ? { deadLetterSinkUri: deadLetter.uri } : {}),
  };
}

function subscriptionStatus(facts: StatusFacts, subscription: Resource): Partial<ResourceStatus> {
  const spec = subscription.spec as SubscriptionSpec;
  const { namespace } = subscription.metadata;
  const channelNamespace = spec.channel.namespace || namespace;
  const channel = facts.find(spec.channel.kind, channelNamespace, spec.channel.name);
  const conditions: Condition[] = [];
  if (!channel) {
    conditions.push(
      bad(
        "ChannelReady",
        "ChannelDoesNotExist",
        `${spec.channel.kind} ${channelNamespace}/${spec.channel.name} does not exist`,
      ),
    );
  } else {
    conditions.push(
      runCondition("ChannelReady", facts.run(channel), `${spec.channel.kind} ${spec.channel.name}`),
    );
  }
  const subscriber = destinationCondition(
    facts,
    "SubscriberResolved",
    "subscriber",
    spec.subscriber,
    namespace,
  );
  const reply = destinationCondition(facts, "ReplyResolved", "reply", spec.reply, namespace);
  const delivery: DeliverySpec | undefined =
    spec.delivery ?? (channel?.spec as { delivery?: DeliverySpec } | undefined)?.delivery;
  const deadLetter = destinationCondition(
    facts,
    "DeadLetterSinkResolved",
    "dead letter sink",
    delivery?.deadLetterSink,
    namespace,
  );
  for (const c of [subscriber.condition, reply.condition, deadLetter.condition]) {
    if (c) conditions.push(c);
  }
  if (!conditions.some((c) => c.status === "False")) {
    conditions.push(runCondition("AddedToChannel", facts.run(subscription), "its consumer"));
  }
  return {
    conditions: withReady(conditions),
    ...(subscriber.uri ? { subscriberUri: subscriber.uri } : {}),
    ...(reply.uri ? { replyUri: reply.uri } : {}),
    ...(deadLetter.uri ? { deadLetterSinkUri: deadLetter.uri } : {}),
  };
}

/** Brokers, channels, sinks, transforms: an address, and whether what serves it runs. */
function addressableStatus(
  facts: StatusFacts,
  resource: Resource,
  runType: string,
): Partial<ResourceStatus> {
  const address = facts.address(resource);
  const conditions: Condition[] = [
    address
      ? ok("Addressable")
      : bad("Addressable", "NoAddress", `${resource.kind} has no address in standalone mode`),
    runCondition(runType, facts.run(resource), `${resource.kind} ${resource.metadata.name}`),
  ];
  const delivery = (resource.spec as { delivery?: DeliverySpec } | undefined)?.delivery;
  const deadLetter = destinationCondition(
    facts,
    "DeadLetterSinkResolved",
    "dead letter sink",
    delivery?.deadLetterSink,
    resource.metadata.namespace,
  );
  if (deadLetter.condition) conditions.push(deadLetter.condition);
  return {
    conditions: withReady(conditions),
    ...(address ? { address } : {}),
    ...(deadLetter.uri ? { deadLetterSinkUri: deadLetter.uri } : {}),
  };
}

/** A Sequence or Parallel: ready when every channel and subscription it stands for is. */
function flowStatus(
  facts: StatusFacts,
  flow: Resource,
  derived: readonly Resource[],
): Partial<ResourceStatus> {
  const address = facts.address(flow);
  const condition = (type: string, kinds: (kind: string) => boolean): Condition => {
    const parts = derived.filter((r) => kinds(r.kind));
    for (const part of parts) {
      const ready = computeStatus(facts, part).conditions[0]!;
      if (ready.status !== "True") {
        return {
          type,
          status: ready.status,
          reason: ready.reason ?? "NotReady",
          message: `${part.kind} ${part.metadata.name}: ${ready.message ?? "not ready"}`,
        };
      }
    }
    return ok(type);
  };
  return {
    conditions: withReady([
      address ? ok("Addressable") : bad("Addressable", "NoAddress", "no address"),
      condition("ChannelsReady", (kind) => kind !== "Subscription"),
      condition("SubscriptionsReady", (kind) => kind === "Subscription"),
    ]),
    ...(address ? { address } : {}),
  };
}

/** Sources (and SinkBinding, MessageQueueTrigger): where they send, and whether they run. */
function sourceStatus(facts: StatusFacts, source: Resource): Partial<ResourceStatus> {
  const spec = (source.spec ?? {}) as { sink?: Destination };
  const sink = destinationCondition(
    facts,
    "SinkProvided",
    "sink",
    spec.sink,
    source.metadata.namespace,
  );
  const conditions: Condition[] = [];
  if (sink.condition) conditions.push(sink.condition);
  // A SinkBinding only hands its sink to the source it binds: nothing of its own runs.
  if (SOURCE_KINDS_RUN.has(source.kind)) {
    conditions.push(
      runCondition("Deployed", facts.run(source), `${source.kind} ${source.metadata.name}`),
    );
  }
  return { conditions: withReady(conditions), ...(sink.uri ? { sinkUri: sink.uri } : {}) };
}

/** The status of `resource`; `derived` holds what a Sequence or Parallel stands for. */
export function computeStatus(
  facts: StatusFacts,
  resource: Resource,
  derived: readonly Resource[] = [],
): ResourceStatus {
  const observed = { observedGeneration: observedGeneration(resource) };
  const { kind, apiVersion } = resource;
  let rest: Partial<ResourceStatus>;
  if (kind === "Trigger") rest = triggerStatus(facts, resource);
  else if (kind === "Subscription") rest = subscriptionStatus(facts, resource);
  else if (kind === "Broker") rest = addressableStatus(facts, resource, "IngressReady");
  else if (kind === "Channel" || Object.hasOwn(CHANNEL_KINDS, kind)) {
    rest = addressableStatus(facts, resource, "BackingReady");
  } else if (kind === "Sequence" || kind === "Parallel") {
    rest = flowStatus(facts, resource, derived);
  } else if (isAddressableKind(kind)) rest = addressableStatus(facts, resource, "ServingReady");
  else if (SOURCE_KINDS_RUN.has(kind) || kind === "SinkBinding") {
    rest = sourceStatus(facts, resource);
  } else if (apiVersion === "v1") {
    // ConfigMaps and Secrets are read, not run: Kubernetes gives them no conditions either.
    rest = { conditions: [] };
  } else rest = { conditions: withReady([]) };
  return { ...observed, conditions: [], ...rest };
}
