/**
 * Validation of event data against JSON Schemas (CONTRACT §11): one Ajv, the inference formats
 * registered so an inferred format checks exactly as inference decided it, and each schema
 * compiled once per text. Declared schemas are the user's: unknown keywords and formats are
 * ignored rather than refused.
 */
import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import { FORMATS, SAMPLE_KEYWORD } from "./schema-infer.js";

/** ajv (CommonJS) is required with the first schema: most configurations declare none (issue 22). */
const require = createRequire(import.meta.url);

export function createAjv(): Ajv {
  const { Ajv } = require("ajv") as typeof import("ajv");
  const ajv = new Ajv({ strict: false, logger: false, allErrors: false, validateSchema: false });
  for (const [name, check] of Object.entries(FORMATS)) ajv.addFormat(name, check);
  ajv.addKeyword({ keyword: SAMPLE_KEYWORD });
  return ajv;
}

/** RFC 6901 escaping of one reference token. */
function escapeToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Where in the instance an error is: for a missing property, the property itself. */
export function errorPointer(error: ErrorObject): string {
  const missing = (error.params as { missingProperty?: unknown }).missingProperty;
  if (error.keyword === "required" && typeof missing === "string") {
    return `${error.instancePath}/${escapeToken(missing)}`;
  }
  const extra = (error.params as { additionalProperty?: unknown }).additionalProperty;
  if (error.keyword === "additionalProperties" && typeof extra === "string") {
    return `${error.instancePath}/${escapeToken(extra)}`;
  }
  return error.instancePath;
}

/** The first failure as one line naming its pointer, or undefined when `value` matches. */
export function firstFailure(
  validate: ValidateFunction,
  value: unknown,
): { pointer: string; message: string } | undefined {
  if (validate(value)) return undefined;
  const error = validate.errors?.[0];
  if (error === undefined) return { pointer: "", message: "does not match the schema" };
  const pointer = errorPointer(error);
  const message =
    error.keyword === "required" ? "is required" : (error.message ?? "does not match the schema");
  return { pointer, message };
}

/**
 * Compiled schemas by their JSON text. `retain` keeps those a new configuration still uses and
 * drops the rest, so a schema is compiled once while it stays declared, and again only if its
 * text changes.
 */
export class SchemaCache {
  private ajvInstance: Ajv | undefined;
  private compiled = new Map<string, ValidateFunction>();
  /** How many compilations ran (tests check the cache holds). */
  compilations = 0;

  /** The validator of `text`, compiling it on first use; throws when it is not a schema. */
  get(text: string): ValidateFunction {
    let validate = this.compiled.get(text);
    if (validate === undefined) {
      const schema = JSON.parse(text) as object;
      this.ajvInstance ??= createAjv();
      validate = this.ajvInstance.compile(schema);
      this.compilations++;
      // Ajv caches by schema object too; dropping ours must let its go.
      this.compiled.set(text, validate);
    }
    return validate;
  }

  retain(texts: ReadonlySet<string>): void {
    for (const [text, validate] of this.compiled) {
      if (texts.has(text)) continue;
      this.ajvInstance?.removeSchema(validate.schema as object);
      this.compiled.delete(text);
    }
  }
}
