/**
 * SinkBinding standalone (CONTRACT §2a). On a cluster it injects K_SINK and K_CE_OVERRIDES into
 * the pods of its subject; here the processes Eventail itself starts are the only ones it can
 * reach: a ContainerSource's command and a JobSink's job. A binding naming one of those gives its
 * process the binding's sink and overrides; any other subject (a Deployment, a Job, a Knative
 * Service) is accepted and reported as not applicable standalone.
 */
import type { Resource, SinkBindingResource, SinkBindingSubject } from "./types.js";

/** The subjects a binding reaches standalone, with the apiVersion each is served at. */
export const BINDABLE_SUBJECTS: Readonly<Record<string, string>> = {
  ContainerSource: "sources.knative.dev/v1",
  JobSink: "sinks.knative.dev/v1alpha1",
};

export function isBindableStandalone(subject: Pick<SinkBindingSubject, "apiVersion" | "kind">) {
  return BINDABLE_SUBJECTS[subject.kind] === subject.apiVersion;
}

type Target = Pick<Resource, "apiVersion" | "kind" | "metadata">;

/** Whether a binding of `namespace` names `target` (by name, or by label selector). */
export function subjectMatches(
  subject: SinkBindingSubject,
  namespace: string,
  target: Target,
): boolean {
  if (subject.kind !== target.kind || !isBindableStandalone(subject)) return false;
  if ((subject.namespace || namespace) !== target.metadata.namespace) return false;
  if (subject.name !== undefined) return subject.name === target.metadata.name;
  return subject.selector !== undefined && selects(subject.selector, target.metadata.labels ?? {});
}

/**
 * The binding whose subject is `target`; when several name it, the first by name wins, so the
 * choice does not depend on file order.
 */
export function bindingFor(
  bindings: readonly SinkBindingResource[],
  target: Target,
): SinkBindingResource | undefined {
  return bindings
    .filter((b) => subjectMatches(b.spec.subject, b.metadata.namespace, target))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))[0];
}

/** Kubernetes label selector semantics: every matchLabels pair and every expression hold. */
export function selects(
  selector: NonNullable<SinkBindingSubject["selector"]>,
  labels: Readonly<Record<string, string>>,
): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, key);
    const ok =
      operator === "In"
        ? has && values.includes(labels[key]!)
        : operator === "NotIn"
          ? !has || !values.includes(labels[key]!)
          : operator === "Exists"
            ? has
            : operator === "DoesNotExist"
              ? !has
              : false;
    if (!ok) return false;
  }
  return true;
}
