/**
 * Sequence and Parallel are built from channels and subscriptions, as Knative's controllers build
 * them: these functions derive the synthetic Channel and Subscription resources a flow stands for,
 * and the reconciler runs them like any other.
 */
import { DEFAULT_CHANNEL_TEMPLATE } from "../resources/defaults.js";
import type {
  ChannelTemplate,
  Destination,
  KReference,
  ParallelResource,
  Resource,
  SequenceResource,
  SubscriptionSpec,
} from "../resources/types.js";

export function sequenceChannelName(sequence: string, step: number): string {
  return `${sequence}-kn-sequence-${step}`;
}

export function parallelIngressChannelName(parallel: string): string {
  return `${parallel}-kn-parallel`;
}

function parallelBranchChannelName(parallel: string, branch: number): string {
  return `${parallel}-kn-parallel-${branch}`;
}

function channel(owner: Resource, name: string, template: ChannelTemplate | undefined): Resource {
  const t = template ?? DEFAULT_CHANNEL_TEMPLATE;
  return {
    apiVersion: t.apiVersion,
    kind: t.kind,
    metadata: { name, namespace: owner.metadata.namespace },
    spec: t.spec ?? {},
    origin: owner.origin,
  };
}

function channelRef(
  owner: Resource,
  name: string,
  template: ChannelTemplate | undefined,
): KReference {
  const t = template ?? DEFAULT_CHANNEL_TEMPLATE;
  return { apiVersion: t.apiVersion, kind: t.kind, name, namespace: owner.metadata.namespace };
}

function subscription(
  owner: Resource,
  name: string,
  spec: SubscriptionSpec,
): Resource<SubscriptionSpec> {
  return {
    apiVersion: "messaging.knative.dev/v1",
    kind: "Subscription",
    metadata: { name, namespace: owner.metadata.namespace },
    spec,
    origin: owner.origin,
  };
}

function destinationOnly(step: Destination): Destination {
  return {
    ...(step.ref ? { ref: step.ref } : {}),
    ...(step.uri !== undefined ? { uri: step.uri } : {}),
  };
}

/** Step i reads channel i; its reply goes to channel i+1, the last one's to `spec.reply`. */
export function expandSequence(sequence: SequenceResource): Resource[] {
  const { steps, channelTemplate, reply } = sequence.spec;
  const name = sequence.metadata.name;
  const out: Resource[] = [];
  steps.forEach((step, i) => {
    const channelName = sequenceChannelName(name, i);
    out.push(channel(sequence, channelName, channelTemplate));
    const next =
      i < steps.length - 1
        ? { ref: channelRef(sequence, sequenceChannelName(name, i + 1), channelTemplate) }
        : reply;
    out.push(
      subscription(sequence, channelName, {
        channel: channelRef(sequence, channelName, channelTemplate),
        subscriber: destinationOnly(step),
        ...(next ? { reply: next } : {}),
        ...(step.delivery ? { delivery: step.delivery } : {}),
      }),
    );
  });
  return out;
}

/**
 * Every event entering a Parallel goes to each branch's filter; a filter's reply (or the event
 * itself, for a branch without filter) enters that branch's channel, whose subscription calls the
 * branch subscriber and sends its reply to the branch's `reply` or else `spec.reply`.
 *
 * A branch's `delivery` is its subscriber's alone: Knative's NewFilterSubscription gives the
 * filter Subscription none, so a failing filter is not retried or dead-lettered under the
 * branch's rules (it falls back to the channel's delivery, like any Subscription without one).
 */
export function expandParallel(parallel: ParallelResource): Resource[] {
  const { branches, channelTemplate, reply } = parallel.spec;
  const name = parallel.metadata.name;
  const ingress = parallelIngressChannelName(name);
  const out: Resource[] = [channel(parallel, ingress, channelTemplate)];
  branches.forEach((branch, i) => {
    const branchChannel = parallelBranchChannelName(name, i);
    out.push(channel(parallel, branchChannel, channelTemplate));
    out.push(
      subscription(parallel, `${name}-kn-parallel-filter-${i}`, {
        channel: channelRef(parallel, ingress, channelTemplate),
        ...(branch.filter ? { subscriber: branch.filter } : {}),
        reply: { ref: channelRef(parallel, branchChannel, channelTemplate) },
      }),
    );
    const branchReply = branch.reply ?? reply;
    out.push(
      subscription(parallel, branchChannel, {
        channel: channelRef(parallel, branchChannel, channelTemplate),
        subscriber: branch.subscriber,
        ...(branchReply ? { reply: branchReply } : {}),
        ...(branch.delivery ? { delivery: branch.delivery } : {}),
      }),
    );
  });
  return out;
}
