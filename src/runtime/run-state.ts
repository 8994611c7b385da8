/**
 * What the running parts of the reconciler say of one resource, for its status: running, or why
 * not, in words a user reads (BackingUnavailable, ConsumerNotSubscribed, ...).
 */
import type { Broker } from "../broker/broker.js";
import { CHANNEL_KINDS, type ChannelRuntime } from "../channels/channel.js";
import type { Resource } from "../resources/types.js";
import { SINK_KINDS } from "../sinks/kinds.js";
import type { ConsumerState } from "./consumer-set.js";
import type { IngressSet } from "./ingress-set.js";
import type { RunState } from "./resource-status.js";
import type { SinkSet } from "./sink-set.js";
import type { SourceSet } from "./source-set.js";

export interface RuntimeParts {
  readonly brokers: IngressSet<Broker>;
  readonly channels: IngressSet<ChannelRuntime>;
  readonly triggers: { stateOf(key: string): ConsumerState | undefined };
  readonly subscriptions: { stateOf(key: string): ConsumerState | undefined };
  readonly sources: SourceSet;
  readonly sinks: SinkSet;
  /** Whether an EventTransform or RequestReply runs. */
  exchange(kind: string, namespace: string, name: string): boolean;
}

const SINK_KIND_NAMES = new Set(SINK_KINDS.map((k) => k.kind));

function ingressState(
  set: IngressSet<Broker> | IngressSet<ChannelRuntime>,
  key: string,
): RunState | undefined {
  if (set.get(key)) return { state: "running" };
  const failure = set.failures.get(key);
  return failure === undefined
    ? undefined
    : { state: "failed", reason: "BackingUnavailable", message: failure };
}

function consumerState(state: ConsumerState | undefined, parent: string): RunState | undefined {
  switch (state?.state) {
    case undefined:
      return undefined;
    case "subscribed":
      return { state: "running" };
    case "no-parent":
      return {
        state: "failed",
        reason: `${parent}NotReady`,
        message: `its ${parent.toLowerCase()} does not run`,
      };
    case "invalid":
      return { state: "failed", reason: "Invalid", message: state.message };
    case "not-subscribed":
      return {
        state: "failed",
        reason: "ConsumerNotSubscribed",
        message: `its consumer could not subscribe (engine down?): ${state.message}`,
      };
  }
}

export function runStateOf(parts: RuntimeParts, resource: Resource): RunState | undefined {
  const { kind } = resource;
  const { namespace, name } = resource.metadata;
  const key = `${namespace}/${name}`;
  if (kind === "Broker") return ingressState(parts.brokers, key);
  if (kind === "Channel" || Object.hasOwn(CHANNEL_KINDS, kind)) {
    return ingressState(parts.channels, key);
  }
  if (kind === "Trigger") return consumerState(parts.triggers.stateOf(key), "Broker");
  if (kind === "Subscription") return consumerState(parts.subscriptions.stateOf(key), "Channel");
  if (SINK_KIND_NAMES.has(kind)) {
    if (parts.sinks.get(namespace, name)) return { state: "running" };
    const failure = parts.sinks.failures.get(key);
    return failure === undefined
      ? undefined
      : { state: "failed", reason: "SinkNotStarted", message: failure };
  }
  if (kind === "EventTransform" || kind === "RequestReply") {
    return parts.exchange(kind, namespace, name) ? { state: "running" } : undefined;
  }
  const source = parts.sources.stateOf(kind, namespace, name);
  if (source === undefined) return undefined;
  if ("held" in source) {
    return {
      state: "pending",
      reason: "NotLeader",
      message:
        "it emits by itself (or holds an MQTT session only one client may have), so it runs only on the replica that holds the leadership",
    };
  }
  if (!source.running) {
    return { state: "failed", reason: "SourceNotStarted", message: source.error };
  }
  return source.ready === undefined
    ? { state: "running" }
    : { state: "running", ready: source.ready };
}
