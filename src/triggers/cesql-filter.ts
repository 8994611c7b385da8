import type { Attributes } from "../events/event.js";
import { compile } from "./cesql/index.js";

/**
 * The `cesql` filter dialect: compiled once; any evaluation error or a non-true result is no match.
 * Throws on a syntax error (validation reports those before a trigger ever gets here).
 */
export function compileCesqlPredicate(expression: string): (attributes: Attributes) => boolean {
  const compiled = compile(expression);
  if (!compiled.ok) throw new Error(`invalid CESQL expression: ${compiled.error.message}`);
  const program = compiled.program;
  return (attributes) => program.matches(attributes);
}
