import { createRequire } from "node:module";
import type { Ajv } from "ajv";
import { asArray, asFields, asString, type Check, type Fields } from "./check.js";

/** The attributes a v1beta3 EventType must describe, as Knative requires. */
const REQUIRED_ATTRIBUTES = ["type", "source", "specversion", "id"];

/** Where a declared schema of `data` lives besides v1beta2's spec.schemaData (CONTRACT §11). */
const SCHEMA_ANNOTATION = "eventail.io/schema-data";

let ajv: Ajv | undefined;
/** ajv (CommonJS) is required with the first declared schema: most configurations have none (issue 22). */
const require = createRequire(import.meta.url);

/** Why `text` is not a JSON Schema the registry can check events with, or undefined. */
function schemaProblem(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return "must be a JSON object (a JSON Schema)";
  }
  if (ajv === undefined) {
    const { Ajv } = require("ajv") as typeof import("ajv");
    // Formats and keywords Ajv does not know are ignored at ingress too, so not refused here.
    ajv = new Ajv({ strict: false, logger: false, validateFormats: false });
  }
  try {
    ajv.compile(parsed);
  } catch (error) {
    return `is not a valid JSON Schema: ${(error as Error).message}`;
  }
  return undefined;
}

/**
 * EventType: v1beta2 needs `type` (its schema says so); v1beta3 lists the event's attributes,
 * which must include type, source, specversion and id. A schema of `data` (v1beta2
 * spec.schemaData, or the annotation eventail.io/schema-data) must be a JSON Schema.
 */
export function checkEventType(check: Check, spec: Fields): void {
  const schemaData = spec["schemaData"];
  if (typeof schemaData === "string" && schemaData.trim() !== "") {
    const problem = schemaProblem(schemaData);
    if (problem !== undefined) check.report("spec.schemaData", problem);
  }
  const annotated = check.resource.metadata.annotations?.[SCHEMA_ANNOTATION];
  if (annotated !== undefined) {
    const problem = schemaProblem(annotated);
    if (problem !== undefined) {
      check.report(`metadata.annotations[${SCHEMA_ANNOTATION}]`, problem);
    }
  }
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
