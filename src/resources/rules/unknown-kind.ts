import { SERVICES_CONFIG_MAP } from "../services.js";

/** Workloads a Knative example ships beside its eventing resources; they run on a cluster only. */
const WORKLOADS: Readonly<Record<string, readonly string[]>> = {
  v1: ["Pod"],
  "apps/v1": ["StatefulSet", "DaemonSet", "ReplicaSet"],
  "batch/v1": ["Job", "CronJob"],
};

function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/**
 * Why a kind Eventail does not serve is refused, and what the user can do instead: every message
 * says what standalone Eventail cannot do, so a manifest copied from a Knative cluster's docs
 * points to its way out (run it elsewhere and map its address, or use a kind served here).
 */
export function unknownKindMessage(apiVersion: string, kind: string, served: string): string {
  const head = `unknown kind ${kind} in ${apiVersion}`;
  if (WORKLOADS[apiVersion]?.includes(kind)) {
    return (
      `${head}: Eventail does not run workloads standalone; run the program yourself, leave this ` +
      `manifest out of -f, and point refs to its Service at it with --service NAMESPACE/NAME=URL ` +
      `or ConfigMap ${SERVICES_CONFIG_MAP}`
    );
  }
  if (kind === "RabbitmqBrokerConfig") {
    return (
      `${head}: RabbitMQ brokers are not run standalone yet; leave this manifest out of -f and ` +
      "give the Broker a v1 ConfigMap whose data.backing is memory, redis, nats or kafka"
    );
  }
  const group = groupOf(apiVersion);
  if (group === "sources.knative.dev") {
    return (
      `${head}: Eventail cannot run this source standalone; run it on a Knative cluster, or ` +
      `replace it with a ContainerSource whose command posts events to $K_SINK (Eventail serves ${served})`
    );
  }
  if (group === "knative.dev" || group.endsWith(".knative.dev")) {
    return (
      `${head}: Eventail does not serve this Knative kind standalone; run it on a Knative ` +
      `cluster and refer to its address with a uri (Eventail serves ${served})`
    );
  }
  return `${head}: Eventail serves only these kinds standalone: ${served}`;
}
