/**
 * Knative's feature flags, read from the ConfigMap Knative reads them from
 * (`knative-eventing/config-features`), so a cluster's flags carry over as they are.
 */
import { KNATIVE_NAMESPACE } from "./broker-config.js";

export const FEATURES_CONFIG_MAP = "config-features";

/** A Trigger's `spec.brokerRef` may name a Broker of another namespace (Knative 1.22). */
export const CROSS_NAMESPACE_EVENT_LINKS = "cross-namespace-event-links";

/** True when `config-features` sets `flag` to `enabled` (Knative's default is disabled). */
export function featureEnabled(
  configMaps: (namespace: string, name: string) => Readonly<Record<string, string>> | undefined,
  flag: string,
): boolean {
  return configMaps(KNATIVE_NAMESPACE, FEATURES_CONFIG_MAP)?.[flag]?.trim() === "enabled";
}
