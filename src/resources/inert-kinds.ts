/**
 * Kubernetes kinds a Knative example ships beside its eventing resources (the event-display
 * Service, its Deployment, the ServiceAccount and RBAC of an ApiServerSource, a Namespace), so
 * `kubectl apply -f DIR` on a cluster and `eventail run -f DIR` take the same directory. Standalone
 * they do nothing: accepted with a warning that says so and what to do instead, never stored.
 * A ref to a Service resolves as services.ts says, whether the Service is declared or not.
 */
import { SERVICES_CONFIG_MAP } from "./services.js";

const INERT_KINDS: Readonly<Record<string, readonly string[]>> = {
  v1: ["Service", "ServiceAccount", "Namespace"],
  "serving.knative.dev/v1": ["Service"],
  "apps/v1": ["Deployment"],
  "rbac.authorization.k8s.io/v1": ["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"],
};

export function isInertKind(apiVersion: string, kind: string): boolean {
  return INERT_KINDS[apiVersion]?.includes(kind) ?? false;
}

/**
 * Why a document of an inert kind does nothing standalone, or undefined when nothing needs saying
 * (a Service the user already mapped). `mapped` tells whether `namespace/name` is mapped.
 */
export function inertWarning(
  kind: string,
  namespace: string,
  name: string,
  mapped: boolean,
): string | undefined {
  const mapping =
    `--service ${namespace}/${name}=URL or data.${name} of ConfigMap ` +
    `${namespace}/${SERVICES_CONFIG_MAP}`;
  switch (kind) {
    case "Service":
      if (mapped) return undefined;
      return (
        `not run standalone: Eventail runs no workloads; run the program yourself and map the ` +
        `Service with ${mapping} (until then refs to it resolve to its cluster address)`
      );
    case "Deployment":
      return (
        "not run standalone: Eventail runs no workloads; run the program yourself and map the " +
        "Service in front of it with --service NAMESPACE/NAME=URL or ConfigMap " +
        SERVICES_CONFIG_MAP
      );
    case "Namespace":
      return "ignored standalone: a namespace exists as soon as a resource names it";
    default:
      return `ignored standalone: Eventail checks no Kubernetes accounts or roles (${kind})`;
  }
}
