import { asArray, asFields, asString, type Check, type Fields } from "./check.js";

/** The attributes a v1beta3 EventType must describe, as Knative requires. */
const REQUIRED_ATTRIBUTES = ["type", "source", "specversion", "id"];

/**
 * EventType, declared only (the registry comes later): v1beta2 needs `type` (its schema says so);
 * v1beta3 lists the event's attributes, which must include type, source, specversion and id.
 */
export function checkEventType(check: Check, spec: Fields): void {
  if (!check.resource.apiVersion.endsWith("/v1beta3")) return;
  if (spec["attributes"] === undefined) {
    check.report(
      "spec.attributes",
      `required field is missing (${REQUIRED_ATTRIBUTES.join(", ")})`,
    );
    return;
  }
  const named = new Set(asArray(spec["attributes"]).map((a) => asString(asFields(a)?.["name"])));
  const missing = REQUIRED_ATTRIBUTES.filter((name) => !named.has(name));
  if (missing.length > 0) {
    check.report("spec.attributes", `must describe the attributes ${missing.join(", ")}`);
  }
}
