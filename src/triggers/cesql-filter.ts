import type { Attributes } from "../events/event.js";
import { cesqlAttributeView } from "./attribute-lookup.js";
import { type CesqlAst, compile } from "./cesql/index.js";
import { type EventFilter, FAIL, noFilter, PASS } from "./dialects.js";

const NONE: ReadonlySet<string> = new Set();

/** The attribute names an expression reads (attribute references and EXISTS). */
function attributeNames(ast: CesqlAst, names = new Set<string>()): Set<string> {
  switch (ast.kind) {
    case "attribute":
    case "exists":
      names.add(ast.name);
      break;
    case "unary":
    case "like":
      attributeNames(ast.operand, names);
      break;
    case "binary":
      attributeNames(ast.left, names);
      attributeNames(ast.right, names);
      break;
    case "in":
      attributeNames(ast.operand, names);
      for (const item of ast.set) attributeNames(item, names);
      break;
    case "call":
      for (const arg of ast.args) attributeNames(arg, names);
      break;
    default:
      break;
  }
  return names;
}

/**
 * The `cesql` filter dialect: compiled once; any evaluation error or a non-true result is no match.
 * It reads attributes as Knative's CESQL filter does (attribute-lookup.ts), `hidden` names being
 * missing; an expression that reads none of the names needing that reads the event directly.
 * Throws on a syntax error (validation reports those before a trigger ever gets here).
 */
export function compileCesqlPredicate(
  expression: string,
  hidden: ReadonlySet<string> = NONE,
): (attributes: Attributes) => boolean {
  const compiled = compile(expression);
  if (!compiled.ok) throw new Error(`invalid CESQL expression: ${compiled.error.message}`);
  const program = compiled.program;
  const view = cesqlAttributeView(attributeNames(program.ast), hidden);
  if (view === undefined) return (attributes) => program.matches(attributes);
  return (attributes) => program.matches(view(attributes));
}

/** Knative's NewCESQLFilter: an empty expression has nothing to say (NoFilter); else Pass or Fail. */
export function cesqlFilter(expression: string, hidden: ReadonlySet<string> = NONE): EventFilter {
  if (expression === "") return noFilter;
  const matches = compileCesqlPredicate(expression, hidden);
  return (attributes) => (matches(attributes) ? PASS : FAIL);
}
