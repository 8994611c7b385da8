/**
 * Turns a CRD's openAPIV3Schema (Kubernetes' structural dialect) into plain JSON Schema for ajv.
 *
 * Kubernetes prunes fields a structural schema does not declare; Eventail reports them instead
 * (as `kubectl apply --validate=strict` does), so a typo like `subcriber` is an error rather than
 * a silently missing subscriber. `x-kubernetes-preserve-unknown-fields` keeps its meaning.
 */

type Schema = Record<string, unknown>;

const PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields";

/** Keys with meaning only to Kubernetes or to documentation tools. */
function isKubernetesOnly(key: string): boolean {
  return key.startsWith("x-kubernetes-") || key === "example" || key === "externalDocs";
}

function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const source = node as Schema;
  const out: Schema = {};
  for (const [key, value] of Object.entries(source)) {
    if (isKubernetesOnly(key)) continue;
    if (key === "properties" || key === "patternProperties") {
      out[key] = mapValues(value as Record<string, unknown>, toJsonSchema);
    } else if (key === "enum" || key === "default" || key === "required") {
      out[key] = value;
    } else {
      out[key] = toJsonSchema(value);
    }
  }
  const closed =
    source["type"] === "object" &&
    source[PRESERVE_UNKNOWN] !== true &&
    source["additionalProperties"] === undefined;
  if (closed) out["additionalProperties"] = false;
  return out;
}

/** The schema for what a manifest sets: `status` belongs to controllers, identity to the loader. */
export function manifestSchema(openAPIV3Schema: Schema): Schema {
  const schema = toJsonSchema(openAPIV3Schema) as Schema;
  const properties = { ...((schema["properties"] as Record<string, unknown>) ?? {}) };
  for (const key of ["status", "apiVersion", "kind", "metadata"]) delete properties[key];
  return { ...schema, properties };
}

function mapValues(
  record: Record<string, unknown>,
  fn: (value: unknown) => unknown,
): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
