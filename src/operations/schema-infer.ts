/**
 * JSON Schema inference for the EventType registry (CONTRACT §11): a schema of an event's `data`
 * from one value, and the merge that widens it as events arrive. Every value inferred from, or
 * folded in by `widen`, validates against the result; `mergeSchemas` accepts the same instances
 * whichever order it is given its arguments in.
 *
 * One node may stand for several JSON types (`type: ["string", "object"]`): `properties` and
 * `required` only constrain objects, `items` arrays and `format` strings, so a union needs no
 * `anyOf`. Objects stay open (no `additionalProperties: false`): a field seen for the first time
 * is news, not an error.
 */

export type JsonType = "null" | "boolean" | "integer" | "number" | "string" | "array" | "object";

/** What string values a node has seen, while they are few enough to be an enum candidate. */
export interface StringSample {
  /** How many string values were seen. */
  readonly n: number;
  /** The distinct values, sorted. */
  readonly values: readonly string[];
}

/** The subset of JSON Schema (draft-07) that inference writes. */
export interface JsonSchema {
  readonly type?: JsonType | readonly JsonType[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
  readonly format?: string;
  readonly enum?: readonly unknown[];
  /** Bookkeeping for enum inference; an annotation validators ignore. */
  readonly [SAMPLE_KEYWORD]?: StringSample;
  readonly [key: string]: unknown;
}

export const SAMPLE_KEYWORD = "x-eventail-strings";

/**
 * The enum rule: a string field becomes an enum once it was seen at least ENUM_MIN_SEEN times
 * with at most ENUM_MAX_VALUES distinct values, and only when strings are all it ever held.
 * A field that keeps repeating a handful of values over many events is a closed set (a status, a
 * currency); with fewer events an id or a name could look the same. Merging unions the values and
 * adds the counts, so the rule is order-independent, and a value outside the set drops the enum
 * for good rather than refusing the event that brought it.
 */
export const ENUM_MIN_SEEN = 20;

/**
 * An object with more distinct property names than this is a map keyed by data (user ids,
 * SKUs), not a record: its node says only "object", so a schema cannot grow with every event.
 * A node of type object without `properties` stands for that.
 */
export const MAX_PROPERTIES = 100;
export const ENUM_MAX_VALUES = 5;
/** Longer strings are text, not enum values: they are not sampled (nor kept in the schema). */
export const ENUM_MAX_LENGTH = 64;

/**
 * The string formats inference recognises, each checked the same way by inference and by the
 * validator (registerFormats), so an inferred format never refuses a value it was inferred from.
 * `uri` asks for `scheme://` so that `a:b` (a key, a ratio) is not taken for one.
 */
export const FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  "date-time": (v) =>
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/.test(
      v,
    ),
  date: (v) => /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(v),
  uuid: (v) =>
    /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(v),
  email: (v) =>
    /^[^\s@"<>(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$/.test(v),
  uri: (v) => /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s]+$/.test(v),
};
const FORMAT_NAMES = Object.keys(FORMATS);

/** The JSON type of a parsed JSON value. */
function typeOf(value: unknown): JsonType {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "boolean":
      return "boolean";
    case "number":
      return Number.isInteger(value) ? "integer" : "number";
    case "string":
      return "string";
    default:
      return "object";
  }
}

function typesOf(schema: JsonSchema): JsonType[] {
  const type = schema.type;
  if (type === undefined) return [];
  return typeof type === "string" ? [type] : [...type];
}

const TYPE_ORDER: readonly JsonType[] = [
  "null",
  "boolean",
  "integer",
  "number",
  "string",
  "array",
  "object",
];

/** A sorted type set as the schema writes it: one name alone, `integer` folded into `number`. */
function typeField(types: Iterable<JsonType>): JsonType | JsonType[] {
  const set = new Set(types);
  if (set.has("number")) set.delete("integer");
  const sorted = TYPE_ORDER.filter((t) => set.has(t));
  return sorted.length === 1 ? sorted[0]! : sorted;
}

/** The schema of one JSON value. */
export function inferSchema(value: unknown): JsonSchema {
  const type = typeOf(value);
  if (type === "string") {
    const text = value as string;
    const format = FORMAT_NAMES.find((name) => FORMATS[name]!(text));
    return settle({
      type,
      ...(format ? { format } : {}),
      ...(text.length <= ENUM_MAX_LENGTH ? { [SAMPLE_KEYWORD]: { n: 1, values: [text] } } : {}),
    });
  }
  if (type === "array") {
    const items = value as unknown[];
    if (items.length === 0) return { type };
    let merged = inferSchema(items[0]);
    for (let i = 1; i < items.length; i++) merged = mergeSchemas(merged, inferSchema(items[i]));
    return { type, items: merged };
  }
  if (type === "object") {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    if (keys.length > MAX_PROPERTIES) return { type };
    const properties: Record<string, JsonSchema> = {};
    for (const key of keys) properties[key] = inferSchema(record[key]);
    return { type, properties, required: keys };
  }
  return { type };
}

/**
 * The narrowest schema (of those inference writes) accepting what either accepts. Properties are
 * merged by name, `required` keeps the fields both require, formats survive only when both sides
 * agree (or one side never saw a string).
 */
export function mergeSchemas(a: JsonSchema, b: JsonSchema): JsonSchema {
  const typesA = typesOf(a);
  const typesB = typesOf(b);
  // A schema with no type (declared by hand, or empty) accepts anything: so does the merge.
  if (typesA.length === 0 || typesB.length === 0) return {};
  const has = (types: JsonType[], t: JsonType) =>
    types.includes(t) || (t === "integer" && types.includes("number"));
  const out: Record<string, unknown> = { type: typeField([...typesA, ...typesB]) };

  const stringA = has(typesA, "string");
  const stringB = has(typesB, "string");
  if (stringA || stringB) {
    const format =
      stringA && stringB ? (a.format === b.format ? a.format : undefined) : (a.format ?? b.format);
    if (format !== undefined) out["format"] = format;
    const sample =
      stringA && stringB
        ? mergeSamples(a[SAMPLE_KEYWORD], b[SAMPLE_KEYWORD])
        : stringA
          ? a[SAMPLE_KEYWORD]
          : b[SAMPLE_KEYWORD];
    if (sample !== undefined) out[SAMPLE_KEYWORD] = sample;
  }

  const arrayA = has(typesA, "array");
  const arrayB = has(typesB, "array");
  if (arrayA || arrayB) {
    // An array schema without items has seen only empty arrays, which any items accept.
    const items =
      arrayA && arrayB && a.items && b.items
        ? mergeSchemas(a.items, b.items)
        : (a.items ?? b.items);
    if (items !== undefined) out["items"] = items;
  }

  const objectA = has(typesA, "object");
  const objectB = has(typesB, "object");
  if (objectA || objectB) {
    if (objectA && objectB && a.properties !== undefined && b.properties !== undefined) {
      const propsA = a.properties;
      const propsB = b.properties;
      const properties: Record<string, JsonSchema> = {};
      for (const key of [...new Set([...Object.keys(propsA), ...Object.keys(propsB)])].sort()) {
        const left = propsA[key];
        const right = propsB[key];
        properties[key] = left && right ? mergeSchemas(left, right) : (left ?? right)!;
      }
      if (Object.keys(properties).length <= MAX_PROPERTIES) {
        const requiredB = new Set(b.required ?? []);
        out["properties"] = properties;
        out["required"] = (a.required ?? []).filter((key) => requiredB.has(key)).sort();
      }
    } else if (!(objectA && objectB)) {
      const side = objectA ? a : b;
      if (side.properties !== undefined) out["properties"] = side.properties;
      if (side.required !== undefined) out["required"] = side.required;
    }
  }
  return settle(out as JsonSchema);
}

/** `schema` widened so `value` validates against it. */
export function widen(schema: JsonSchema | undefined, value: unknown): JsonSchema {
  const inferred = inferSchema(value);
  return schema === undefined ? inferred : mergeSchemas(schema, inferred);
}

function mergeSamples(
  a: StringSample | undefined,
  b: StringSample | undefined,
): StringSample | undefined {
  // An absent sample on a string node means its values outgrew the rule: no enum ever again.
  if (a === undefined || b === undefined) return undefined;
  const values = [...new Set([...a.values, ...b.values])].sort();
  if (values.length > ENUM_MAX_VALUES) return undefined;
  return { n: a.n + b.n, values };
}

/** Sets or removes `enum` by the rule above. */
function settle(schema: JsonSchema): JsonSchema {
  const { enum: _dropped, ...rest } = schema;
  const sample = schema[SAMPLE_KEYWORD];
  if (schema.type === "string" && sample !== undefined && sample.n >= ENUM_MIN_SEEN) {
    return { ...rest, enum: sample.values };
  }
  return rest;
}

/** The schema without inference bookkeeping, as users read it. */
export function publicSchema(schema: JsonSchema): JsonSchema {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === SAMPLE_KEYWORD) continue;
    if (key === "properties") {
      out[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, publicSchema(v)]),
      );
    } else if (key === "items") out[key] = publicSchema(value as JsonSchema);
    else out[key] = value;
  }
  return out as JsonSchema;
}
