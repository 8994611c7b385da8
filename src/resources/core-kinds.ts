/**
 * The plain Kubernetes kinds Eventail accepts beside its CRDs: v1 ConfigMap (backing
 * configuration) and v1 Secret (tokens). Their schemas live here because core kinds have no CRD.
 */

export const CORE_API_VERSION = "v1";

/** Kubernetes' rule for ConfigMap and Secret keys. */
export const DATA_KEY = "^[-._a-zA-Z0-9]+$";
/** Standard, padded base64, as Kubernetes decodes Secret data. */
export const BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$";

const stringMap = (valuePattern?: string) => ({
  type: "object",
  propertyNames: { pattern: DATA_KEY },
  additionalProperties: valuePattern
    ? { type: "string", pattern: valuePattern }
    : { type: "string" },
});

/** Top-level fields (besides apiVersion, kind, metadata) each core kind carries. */
export const CORE_KINDS: Readonly<Record<string, { fields: readonly string[]; schema: object }>> = {
  ConfigMap: {
    fields: ["data", "binaryData", "immutable"],
    schema: {
      type: "object",
      additionalProperties: false,
      properties: {
        data: stringMap(),
        binaryData: stringMap(BASE64),
        immutable: { type: "boolean" },
      },
    },
  },
  Secret: {
    fields: ["data", "stringData", "type", "immutable"],
    schema: {
      type: "object",
      additionalProperties: false,
      properties: {
        data: stringMap(BASE64),
        stringData: stringMap(),
        type: { type: "string" },
        immutable: { type: "boolean" },
      },
    },
  },
};

export function isCoreKind(apiVersion: string, kind: string): boolean {
  return apiVersion === CORE_API_VERSION && Object.hasOwn(CORE_KINDS, kind);
}
