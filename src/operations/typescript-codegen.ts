/**
 * TypeScript types from the EventType registry's schemas (`eventail eventtypes codegen --lang
 * typescript`, CONTRACT §11): one data type per event type, a map from type to data, and a
 * CloudEvent type a handler can switch on. Objects are closed (no index signature) unless the
 * schema says `additionalProperties`, so a handler reading a field no event had does not compile.
 */

/** What codegen reads of an EventType (the API's view of one). */
export interface EventTypeLike {
  readonly metadata: { readonly name: string; readonly annotations?: Record<string, string> };
  readonly spec?: {
    readonly type?: string;
    readonly source?: string;
    readonly schemaData?: string;
    readonly attributes?: readonly { name: string; value?: string }[];
    readonly reference?: { name?: string };
    readonly broker?: string;
  };
}

type Schema = Record<string, unknown>;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function typeOf(item: EventTypeLike): string | undefined {
  return item.spec?.type ?? item.spec?.attributes?.find((a) => a.name === "type")?.value;
}

function schemaOf(item: EventTypeLike): Schema | undefined {
  const text = item.spec?.schemaData ?? item.metadata.annotations?.["eventail.io/schema-data"];
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? (parsed as Schema) : undefined;
  } catch {
    return undefined;
  }
}

/** `com.example.order.created` → `ComExampleOrderCreated`. */
export function typeName(eventType: string): string {
  const words = eventType.split(/[^A-Za-z0-9]+/).filter((w) => w !== "");
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
  return /^[A-Za-z]/.test(name) ? name : `T${name}`;
}

function wrap(type: string): string {
  return /[|&]/.test(type) ? `(${type})` : type;
}

function union(types: readonly string[]): string {
  const unique = [...new Set(types)];
  return unique.length === 0 ? "never" : unique.join(" | ");
}

/** The TypeScript type of values `schema` accepts (as closely as a type can say it). */
export function renderSchema(schema: unknown, indent = ""): string {
  if (schema === false) return "never";
  if (typeof schema !== "object" || schema === null) return "unknown";
  const s = schema as Schema;
  if ("const" in s) return JSON.stringify(s["const"]);
  if (Array.isArray(s["enum"])) return union(s["enum"].map((v) => JSON.stringify(v)));
  for (const keyword of ["anyOf", "oneOf"]) {
    const options = s[keyword];
    if (Array.isArray(options)) return union(options.map((o) => renderSchema(o, indent)));
  }
  if (Array.isArray(s["allOf"])) {
    return s["allOf"].map((o) => wrap(renderSchema(o, indent))).join(" & ") || "unknown";
  }
  const declared = s["type"];
  const types =
    typeof declared === "string"
      ? [declared]
      : Array.isArray(declared)
        ? (declared as string[])
        : s["properties"] !== undefined
          ? ["object"]
          : [];
  if (types.length === 0) return "unknown";
  return union(
    types.map((type) => {
      switch (type) {
        case "string":
          return "string";
        case "integer":
        case "number":
          return "number";
        case "boolean":
          return "boolean";
        case "null":
          return "null";
        case "array":
          return `${wrap(s["items"] === undefined ? "unknown" : renderSchema(s["items"], indent))}[]`;
        case "object":
          return renderObject(s, indent);
        default:
          return "unknown";
      }
    }),
  );
}

function renderObject(s: Schema, indent: string): string {
  const properties = (s["properties"] ?? {}) as Record<string, unknown>;
  const required = new Set(Array.isArray(s["required"]) ? (s["required"] as string[]) : []);
  const extra = s["additionalProperties"];
  const inner = `${indent}  `;
  const lines = Object.entries(properties).map(([key, value]) => {
    const name = IDENTIFIER.test(key) ? key : JSON.stringify(key);
    return `${inner}${name}${required.has(key) ? "" : "?"}: ${renderSchema(value, inner)};`;
  });
  if (extra !== undefined && extra !== false) {
    // Declared properties must fit the index signature's type, hence `unknown` beside them.
    const value = extra === true || lines.length > 0 ? "unknown" : renderSchema(extra, inner);
    lines.push(`${inner}[key: string]: ${value};`);
  }
  if (lines.length === 0) return "Record<string, never>";
  return `{\n${lines.join("\n")}\n${indent}}`;
}

/** The module text for `items`: EventTypes without a schema get `unknown` data. */
export function typescriptFor(items: readonly EventTypeLike[]): string {
  const byType = new Map<string, EventTypeLike[]>();
  for (const item of items) {
    const type = typeOf(item);
    if (type === undefined) continue;
    byType.set(type, [...(byType.get(type) ?? []), item]);
  }
  const used = new Set<string>();
  const entries: { type: string; name: string }[] = [];
  const out: string[] = [
    "// Generated by `eventail eventtypes codegen --lang typescript`: do not edit.",
    "",
  ];
  for (const type of [...byType.keys()].sort()) {
    const base = `${typeName(type)}Data`;
    let name = base;
    for (let i = 2; used.has(name); i++) name = `${base}${i}`;
    used.add(name);
    entries.push({ type, name });
    const group = byType.get(type)!;
    const sources = [...new Set(group.map((g) => g.spec?.source).filter((s) => s !== undefined))];
    const schemas = group.map(schemaOf);
    // One EventType without a schema says nothing about its data: the type is unknown.
    const rendered = schemas.some((s) => s === undefined)
      ? "unknown"
      : union(schemas.map((s) => renderSchema(s)));
    out.push(
      `/** Data of ${type}${sources.length > 0 ? ` (from ${sources.join(", ")})` : ""}. */`,
      `export type ${name} = ${rendered};`,
      "",
    );
  }
  out.push("/** Each event type's data. */", "export interface EventDataByType {");
  for (const { type, name } of entries) out.push(`  ${JSON.stringify(type)}: ${name};`);
  out.push(
    "}",
    "",
    "export type EventTypeName = keyof EventDataByType;",
    "",
    "/** A CloudEvent of one registered type, its data typed. */",
    "export interface TypedCloudEvent<T extends EventTypeName = EventTypeName> {",
    "  specversion: string;",
    "  id: string;",
    "  source: string;",
    "  type: T;",
    "  time?: string;",
    "  subject?: string;",
    "  datacontenttype?: string;",
    "  data: EventDataByType[T];",
    "}",
    "",
    "/** Any registered event: switching on `type` narrows `data`. */",
    "export type AnyCloudEvent = { [T in EventTypeName]: TypedCloudEvent<T> }[EventTypeName];",
    "",
  );
  return out.join("\n");
}
