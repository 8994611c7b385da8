import { BINDABLE_SUBJECTS, isBindableStandalone } from "../sink-binding.js";
import { asFields, asString, type Check, type Fields, quote } from "./check.js";
import { checkTargetExists } from "./destination.js";
import { checkSourceSpec } from "./sources.js";

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

/**
 * SinkBinding, as Knative checks it (a subject by name or by selector, not both, in the
 * binding's namespace; a sink that resolves), plus what standalone means for it: a subject
 * Eventail cannot start a process for is accepted with a warning.
 */
export function checkSinkBinding(check: Check, spec: Fields): void {
  checkSourceSpec(check, spec);
  const subject = asFields(spec["subject"]);
  if (!subject) return;
  const name = asString(subject["name"]);
  const selector = asFields(subject["selector"]);
  if (name !== undefined && selector) {
    check.report("spec.subject", "set name or selector, not both");
    return;
  }
  if (name === undefined && !selector) {
    check.report("spec.subject.name", "required field is missing (or set spec.subject.selector)");
  }
  const namespace = asString(subject["namespace"]);
  if (namespace !== undefined && namespace !== check.namespace) {
    check.report(
      "spec.subject.namespace",
      `must be the SinkBinding's own namespace ${quote(check.namespace)} (got ${quote(namespace)})`,
    );
  }
  (Array.isArray(selector?.["matchExpressions"]) ? selector["matchExpressions"] : []).forEach(
    (item: unknown, index: number) => {
      const operator = asString(asFields(item)?.["operator"]);
      if (operator !== undefined && !OPERATORS.includes(operator)) {
        check.report(
          `spec.subject.selector.matchExpressions[${index}].operator`,
          `must be one of ${OPERATORS.join(", ")} (got ${quote(operator)})`,
        );
      }
    },
  );
  const kind = asString(subject["kind"]);
  const apiVersion = asString(subject["apiVersion"]);
  if (!kind || !apiVersion) return;
  if (!isBindableStandalone({ kind, apiVersion })) {
    const bindable = Object.entries(BINDABLE_SUBJECTS)
      .map(([k, version]) => `${version} ${k}`)
      .join(" or ");
    check.warn(
      "spec.subject",
      `not applicable standalone: Eventail runs no ${apiVersion} ${kind}, so nothing gets this ` +
        `binding's K_SINK (standalone, a binding reaches a ${bindable})`,
    );
    return;
  }
  if (name !== undefined)
    checkTargetExists(check, kind, check.namespace, name, "spec.subject.name");
}
