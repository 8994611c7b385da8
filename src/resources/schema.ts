/**
 * Schema validation of manifests against the CRDs in crds/ (the source of truth) and the built-in
 * core kinds. Compiled once, on first use.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { BASE64, CORE_API_VERSION, CORE_KINDS, DATA_KEY } from "./core-kinds.js";
import { crdFiles, readCrdCache, readValidatorIndex } from "./crd-cache.js";
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

interface SchemaEntry {
  readonly schema: object;
  readonly source: string;
  /** The validator the build compiled from this schema (a file in dist/crd-validators). */
  readonly compiled?: string;
}

interface Catalog {
  /** Created with the first validator. */
  ajv?: Ajv;
  readonly kinds: ReadonlyMap<string, KindInfo>;
  readonly schemas: ReadonlyMap<string, SchemaEntry>;
  /** Compiled on first use: compiling every schema up front costs a CLI start noticeably. */
  readonly validators: Map<string, ValidateFunction>;
}

let catalog: Catalog | undefined;

/**
 * ajv and yaml are CommonJS, required on first use: the server asks only for kinds (the API's
 * kind names), and loading both before it listens cost its start-up (issue 22). A synchronous
 * require keeps schemaErrors synchronous.
 */
const require = createRequire(import.meta.url);

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

/** The formats CRD schemas use, as Kubernetes checks them; the build's compiled validators get these too. */
export const CRD_FORMATS: Readonly<
  Record<string, { type: "number" | "string"; validate: (value: never) => boolean }>
> = {
  ...Object.fromEntries(
    [16, 32, 64].map((bits) => {
      const limit = 2 ** (bits - 1);
      return [
        `int${bits}`,
        {
          type: "number",
          validate: (n: number) => Number.isInteger(n) && n >= -limit && n < limit,
        },
      ];
    }),
  ),
  // metav1.Time, as Kubernetes writes it: RFC 3339.
  "date-time": {
    type: "string",
    validate: (text: string) =>
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(text) &&
      !Number.isNaN(Date.parse(text)),
  },
};

/**
 * The Ajv of manifest validation. `standalone`: for the build, which writes each schema's
 * validator as code (its formats come from a `formats` variable the loader passes in).
 */
export function createCrdAjv(standalone = false): Ajv {
  const { Ajv, _ } = require("ajv") as typeof import("ajv");
  // verbose: errors carry the offending value, so messages can say what was given.
  const ajv = new Ajv({
    allErrors: true,
    verbose: true,
    strict: true,
    strictRequired: false,
    ...(standalone ? { code: { source: true, formats: _`formats` } } : {}),
  });
  for (const [name, format] of Object.entries(CRD_FORMATS)) {
    ajv.addFormat(name, format as { type: "number"; validate: (n: number) => boolean });
  }
  return ajv;
}

function loadCatalog(): Catalog {
  if (catalog) return catalog;
  const kinds = new Map<string, KindInfo>();
  const schemas = new Map<string, SchemaEntry>();
  for (const [kind, core] of Object.entries(CORE_KINDS)) {
    kinds.set(kind, { kind, group: "", plural: `${kind.toLowerCase()}s`, apiVersions: ["v1"] });
    schemas.set(`${CORE_API_VERSION}/${kind}`, { schema: core.schema, source: `core ${kind}` });
  }
  const dir = crdsDirectory();
  const cached = readCrdCache(dir);
  // Compiled from the cached documents in the same build, so only trusted when the cache is.
  const compiled = cached === undefined ? undefined : readValidatorIndex(dir);
  for (const file of crdFiles(dir)) {
    const crds = (cached?.get(file) as CrdDocument[] | undefined) ?? readCrds(path.join(dir, file));
    for (const crd of crds) {
      const apiVersions: string[] = [];
      for (const version of crd.spec.versions) {
        if (!version.served) continue;
        const apiVersion = `${crd.spec.group}/${version.name}`;
        apiVersions.push(apiVersion);
        const key = `${apiVersion}/${crd.spec.names.kind}`;
        const validator = compiled?.get(key);
        schemas.set(key, {
          schema: manifestSchema(version.schema.openAPIV3Schema),
          source: `crds/${file} ${version.name}`,
          ...(validator === undefined ? {} : { compiled: validator }),
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
  catalog = { kinds, schemas, validators: new Map() };
  return catalog;
}

/**
 * Standalone code of every served CRD version's validator, by `apiVersion/kind`, for the build
 * (writeValidators). `documents`: the CRD files' parsed documents.
 */
export function compileValidators(documents: Iterable<readonly unknown[]>): Map<string, string> {
  const { default: standaloneCode } =
    require("ajv/dist/standalone/index.js") as typeof import("ajv/dist/standalone/index.js");
  const ajv = createCrdAjv(true);
  const code = new Map<string, string>();
  for (const crds of documents) {
    for (const crd of crds as CrdDocument[]) {
      if (crd.kind !== "CustomResourceDefinition") continue;
      for (const version of crd.spec.versions) {
        if (!version.served) continue;
        const validate = ajv.compile(manifestSchema(version.schema.openAPIV3Schema));
        code.set(
          `${crd.spec.group}/${version.name}/${crd.spec.names.kind}`,
          standaloneCode(ajv, validate),
        );
      }
    }
  }
  return code;
}

/** A build-compiled validator; undefined (compile at run time instead) when it does not load. */
function precompiled(file: string): ValidateFunction | undefined {
  try {
    const make = require(file) as (
      formats: typeof CRD_FORMATS,
      load: NodeJS.Require,
    ) => ValidateFunction;
    return make(CRD_FORMATS, require);
  } catch {
    return undefined;
  }
}

function validatorFor(key: string): ValidateFunction | undefined {
  const loaded = loadCatalog();
  const { schemas, validators } = loaded;
  const known = validators.get(key);
  if (known) return known;
  const entry = schemas.get(key);
  if (!entry) return undefined;
  const compiled = entry.compiled === undefined ? undefined : precompiled(entry.compiled);
  if (compiled) {
    validators.set(key, compiled);
    return compiled;
  }
  loaded.ajv ??= createCrdAjv();
  try {
    const validate = loaded.ajv.compile(entry.schema);
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
  const { parseAllDocuments } = require("yaml") as typeof import("yaml");
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
