import { DEFAULT_DELIVERY, type DeliveryOptions } from "../delivery/options.js";
import type { DeliveryPaces } from "../delivery/pace.js";
import { resolveDestination, type TargetExists } from "../resources/addresses.js";
import { parseIsoDuration } from "../resources/duration.js";
import type { ServiceLookup } from "../resources/services.js";
import type { Resource } from "../resources/types.js";

const RATE_ANNOTATION = "eventail.io/delivery.rate";
const MAX_BACKOFF_ANNOTATION = "eventail.io/delivery.max-backoff";

/** `spec.delivery` as written in a manifest (Knative's DeliverySpec). */
export interface DeliverySpec {
  retry?: number;
  backoffPolicy?: "linear" | "exponential";
  backoffDelay?: string;
  timeout?: string;
  retryAfterMax?: string;
  deadLetterSink?: Parameters<typeof resolveDestination>[0];
  format?: "json" | "binary";
}

function duration(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  return parseIsoDuration(text) ?? fallback;
}

/**
 * One attempt: a Subscription's delivery when neither it nor its Channel sets one (Knative
 * defaults only a Broker's delivery, from config-br-defaults).
 */
export const SINGLE_ATTEMPT: DeliveryOptions = Object.freeze({ ...DEFAULT_DELIVERY, retry: 0 });

/**
 * Fills the defaults of CONTRACT §4 and resolves the dead-letter sink to a URL. `absent` is what
 * applies without a spec. A spec that leaves `retry` unset makes no retries, as in Knative
 * (kncloudevents' RetryConfigFromDeliverySpec keeps RetryMax 0): only a missing spec as a whole
 * gets the Broker default's 10.
 */
export function resolveDelivery(
  spec: DeliverySpec | undefined,
  namespace: string,
  baseUrl: string,
  services?: ServiceLookup,
  exists?: TargetExists,
  absent: DeliveryOptions = DEFAULT_DELIVERY,
): DeliveryOptions {
  if (!spec) return absent;
  return {
    retry: spec.retry ?? 0,
    backoffPolicy: spec.backoffPolicy ?? DEFAULT_DELIVERY.backoffPolicy,
    backoffDelayMs: duration(spec.backoffDelay, DEFAULT_DELIVERY.backoffDelayMs),
    timeoutMs: duration(spec.timeout, DEFAULT_DELIVERY.timeoutMs),
    retryAfterMaxMs: duration(spec.retryAfterMax, DEFAULT_DELIVERY.retryAfterMaxMs),
    format: spec.format === "json" ? "json" : "binary",
    ...(spec.deadLetterSink
      ? {
          deadLetterSink: resolveDestination(
            spec.deadLetterSink,
            namespace,
            baseUrl,
            services,
            exists,
          ),
        }
      : {}),
  };
}

/** How `paces` names a Trigger's or Subscription's pace. */
export function paceKey(resource: Resource): string {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}

/**
 * A Trigger's or Subscription's flow-control annotations on top of its resolved delivery: the
 * pace of `eventail.io/delivery.rate` (the one it had, unless the rate changed) and the cap of
 * `eventail.io/delivery.max-backoff`.
 */
export function withFlowControl(
  delivery: DeliveryOptions,
  resource: Resource,
  paces: DeliveryPaces,
): DeliveryOptions {
  const annotations = resource.metadata.annotations ?? {};
  const rate = Number(annotations[RATE_ANNOTATION]);
  const maxBackoff = annotations[MAX_BACKOFF_ANNOTATION];
  const maxBackoffMs = maxBackoff === undefined ? undefined : parseIsoDuration(maxBackoff);
  if (!(rate > 0) && maxBackoffMs === undefined) return delivery;
  return {
    ...delivery,
    ...(rate > 0 ? { pace: paces.of(paceKey(resource), rate) } : {}),
    ...(maxBackoffMs === undefined ? {} : { maxBackoffMs }),
  };
}
