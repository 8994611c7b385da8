/**
 * Schema validation of manifests against the CRDs in crds/ (the source of truth) and the built-in
 * core kinds. Compiled once, on first use.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { BASE64, CORE_API_VERSION, CORE_KINDS, DATA_KEY } from "./core-kinds.js";
import { crdFiles, readCrdCache } from "./crd-cache.js";
import { childPath } from "./issue.js";
import { manifestSchema } from "./openapi.js";

export interface SchemaError {
  /** Field path like `spec.delivery.retry`. */
  readonly path: string;
  readonly message: string;
}

export interface KindInfo {
  readonly kind: string;
  /** The group of the kind's first CRD (a kind served in two groups has two CRDs). */
  readonly group: string;
  readonly plural: string;
  /** `group/version` for every served version; `v1` for core kinds. */
  readonly apiVersions: readonly string[];
}

interface Catalog {
  readonly ajv: Ajv;
  readonly kinds: ReadonlyMap<string, KindInfo>;
  readonly schemas: ReadonlyMap<string, { schema: object; source: string }>;
  /** Compiled on first use: compiling every schema up front costs a CLI start noticeably. */
  readonly validators: Map<string, ValidateFunction>;
}

let catalog: Catalog | undefined;

/** Every kind Eventail knows, by kind name. */
export function knownKinds(): ReadonlyMap<string, KindInfo> {
  return loadCatalog().kinds;
}

/**
 * Checks the manifest body (`{spec}` for CRD kinds; `{data, stringData, ...}` for core kinds).
 * Returns undefined when no schema exists for this apiVersion and kind.
 */
export function schemaErrors(
  apiVersion: string,
  kind: string,
  body: Readonly<Record<string, unknown>>,
): SchemaError[] | undefined {
  const validate = validatorFor(`${apiVersion}/${kind}`);
  if (!validate) return undefined;
  if (validate(body)) return [];
  const errors = validate.errors ?? [];
  // A value of the wrong type fails its format and bounds too; the type says it all.
  const mistyped = new Set(errors.filter((e) => e.keyword === "type").map((e) => e.instancePath));
  return (
    errors
      .filter((e) => e.keyword === "type" || !mistyped.has(e.instancePath))
      // A bad map key yields a pattern error naming the key plus a propertyNames summary: keep one.
      .filter((e) => e.keyword !== "propertyNames")
      .map(describeError)
  );
}

/** The package root holds crds/ beside package.json, whether this runs from src/ or dist/src/. */
export function crdsDirectory(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, "crds");
    if (existsSync(path.join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error("cannot find the crds/ directory above the resources module");
    dir = parent;
  }
}

function loadCatalog(): Catalog {
  if (catalog) return catalog;
  // verbose: errors carry the offending value, so messages can say what was given.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  for (const bits of [16, 32, 64]) {
    const limit = 2 ** (bits - 1);
    ajv.addFormat(`int${bits}`, {
      type: "number",
      validate: (n: number) => Number.isInteger(n) && n >= -limit && n < limit,
    });
  }
  // metav1.Time, as Kubernetes writes it: RFC 3339.
  ajv.addFormat("date-time", {
    type: "string",
    validate: (text: string) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(text) &&
      !Number.isNaN(Date.parse(text)),
  });
  const kinds = new Map<string, KindInfo>();
  const schemas = new Map<string, { schema: object; source: string }>();
  for (const [kind, core] of Object.entries(CORE_KINDS)) {
    kinds.set(kind, { kind, group: "", plural: `${kind.toLowerCase()}s`, apiVersions: ["v1"] });
    schemas.set(`${CORE_API_VERSION}/${kind}`, { schema: core.schema, source: `core ${kind}` });
  }
  const dir = crdsDirectory();
  const cached = readCrdCache(dir);
  for (const file of crdFiles(dir)) {
    const crds = (cached?.get(file) as CrdDocument[] | undefined) ?? readCrds(path.join(dir, file));
    for (const crd of crds) {
      const apiVersions: string[] = [];
      for (const version of crd.spec.versions) {
        if (!version.served) continue;
        const apiVersion = `${crd.spec.group}/${version.name}`;
        apiVersions.push(apiVersion);
        schemas.set(`${apiVersion}/${crd.spec.names.kind}`, {
          schema: manifestSchema(version.schema.openAPIV3Schema),
          source: `crds/${file} ${version.name}`,
        });
      }
      const { kind, plural } = crd.spec.names;
      // One kind may be served in two groups (GitLabSource: Knative's and Eventail's older one);
      // Knative's group names the kind.
      const known = kinds.get(kind);
      if (known) {
        const knative = crd.spec.group.endsWith("knative.dev");
        kinds.set(kind, {
          ...(knative ? { kind, group: crd.spec.group, plural } : known),
          apiVersions: [...known.apiVersions, ...apiVersions],
        });
      } else {
        kinds.set(kind, { kind, group: crd.spec.group, plural, apiVersions });
      }
    }
  }
  catalog = { ajv, kinds, schemas, validators: new Map() };
  return catalog;
}

function validatorFor(key: string): ValidateFunction | undefined {
  const { ajv, schemas, validators } = loadCatalog();
  const known = validators.get(key);
  if (known) return known;
  const entry = schemas.get(key);
  if (!entry) return undefined;
  try {
    const validate = ajv.compile(entry.schema);
    validators.set(key, validate);
    return validate;
  } catch (error) {
    throw new Error(`${entry.source}: the schema does not compile: ${error}`);
  }
}

interface CrdDocument {
  kind: string;
  spec: {
    group: string;
    names: { kind: string; plural: string };
    versions: Array<{
      name: string;
      served: boolean;
      schema: { openAPIV3Schema: Record<string, unknown> };
    }>;
  };
}

export function readCrds(file: string): CrdDocument[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { merge: true });
  const out: CrdDocument[] = [];
  for (const doc of Array.isArray(docs) ? docs : []) {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const value = doc.toJS() as CrdDocument | null;
    if (value?.kind === "CustomResourceDefinition") out.push(value);
  }
  return out;
}

const PATTERN_MESSAGES: Record<string, string> = {
  [BASE64]: "must be base64 (standard alphabet, padded)",
  [DATA_KEY]: "must hold only letters, digits, '-', '_' and '.'",
  "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$": "must be a Go duration like 30s or 24h",
  "^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$": "must be a Go duration like 30s or 24h (or 0)",
};

function pointerToPath(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const segment = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    out = childPath(out, /^\d+$/.test(segment) ? Number(segment) : segment);
  }
  return out;
}

function describeError(error: ErrorObject): SchemaError {
  const at = pointerToPath(error.instancePath);
  if (error.propertyName !== undefined) {
    const message = PATTERN_MESSAGES[String(error.params["pattern"])] ?? error.message;
    return { path: childPath(at, error.propertyName), message: `invalid key: ${message}` };
  }
  const got = (value: unknown) => ` (got ${JSON.stringify(value)})`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return {
        path: childPath(at, String(params["missingProperty"])),
        message: "required field is missing",
      };
    case "additionalProperties":
      return {
        path: childPath(at, String(params["additionalProperty"])),
        message: "unknown field",
      };
    case "type":
      return { path: at, message: `must be ${params["type"]}${got(error.data)}` };
    case "enum":
      return {
        path: at,
        message: `must be one of ${(params["allowedValues"] as unknown[]).join(", ")}${got(error.data)}`,
      };
    case "minimum":
    case "maximum":
      return {
        path: at,
        message: `must be ${params["comparison"]} ${params["limit"]}${got(error.data)}`,
      };
    case "minLength":
      return {
        path: at,
        message: params["limit"] === 1 ? "must not be empty" : `${error.message}`,
      };
    case "minItems":
      return { path: at, message: `must have at least ${params["limit"]} item(s)` };
    case "format":
      return params["format"] === "date-time"
        ? { path: at, message: `must be an RFC 3339 time${got(error.data)}` }
        : { path: at, message: `must fit in ${params["format"]}${got(error.data)}` };
    case "pattern": {
      const pattern = String(params["pattern"]);
      const message = PATTERN_MESSAGES[pattern] ?? `must match ${pattern}`;
      return { path: at, message: `${message}${got(error.data)}` };
    }
    default:
      return { path: at, message: error.message ?? error.keyword };
  }
}
