/**
 * The defaults the resource model owns, in one place. Delivery defaults (retry, backoff, timeout,
 * retryAfterMax) are deliberately absent: the runtimes apply them where a Trigger's delivery
 * replaces its Broker's as a whole.
 */
import type { ChannelTemplate } from "./types.js";

const DEFAULT_NAMESPACE = "default";

/** What Channel, Sequence and Parallel use when they name no channelTemplate (Knative's default). */
export const DEFAULT_CHANNEL_TEMPLATE: ChannelTemplate = Object.freeze({
  apiVersion: "messaging.knative.dev/v1",
  kind: "InMemoryChannel",
});

/** A Broker with no spec.config runs on this backing. */
export const DEFAULT_BACKING = "memory";

export function namespaceOrDefault(namespace: string | undefined): string {
  return namespace === undefined || namespace === "" ? DEFAULT_NAMESPACE : namespace;
}

/** RequestReply's defaults, Knative's: the attributes and `requestreply-default-timeout`. */
export const REQUEST_REPLY_DEFAULTS = Object.freeze({
  correlationAttribute: "correlationid",
  replyAttribute: "replyid",
  timeout: "PT30S",
});
