/**
 * EventTransform, as Knative 1.17+ validates it. Knative's webhook does not parse the JSONata
 * (its transformer fails at start-up), so an expression that does not parse is a warning: the
 * manifests Knative accepts stay accepted, and the user still learns where it breaks.
 */
import { createRequire } from "node:module";
import type jsonata from "jsonata";
import { childPath } from "../issue.js";
import { asFields, asString, type Check, type Fields } from "./check.js";
import { checkDestination } from "./destination.js";

/** jsonata (CommonJS) is required with the first EventTransform: most configurations have none (issue 22). */
const require = createRequire(import.meta.url);

export function checkEventTransform(check: Check, spec: Fields): void {
  checkExpression(check, spec["jsonata"], "spec.jsonata");
  const sink = asFields(spec["sink"]);
  if (sink) {
    checkDestination(check, sink, "spec.sink");
    // Knative refuses it for JSONata transformations (trust bundles go through ConfigMaps there).
    if (sink["CACerts"] !== undefined) {
      check.report("spec.sink.CACerts", "is not supported for JSONata transformations");
    }
  }
  const reply = asFields(spec["reply"]);
  if (!reply) return;
  if (!sink) {
    check.report("spec.reply", "is set without spec.sink (a reply is the sink's answer)");
    return;
  }
  if (reply["jsonata"] !== undefined && reply["discard"] === true) {
    check.report("spec.reply", "expected exactly one, got both: jsonata, discard");
  }
  if (reply["jsonata"] !== undefined)
    checkExpression(check, reply["jsonata"], "spec.reply.jsonata");
}

function checkExpression(check: Check, value: unknown, at: string): void {
  const expression = asString(asFields(value)?.["expression"]);
  if (expression === undefined) return;
  const problem = jsonataProblem(expression);
  if (problem !== undefined) {
    check.warn(
      childPath(at, "expression"),
      `${problem}; until it parses, every event sent here is answered 400`,
    );
  }
}

/** Why `expression` does not parse as JSONata, in one line; undefined when it parses. */
export function jsonataProblem(expression: string): string | undefined {
  const parse = require("jsonata") as typeof jsonata;
  try {
    parse(expression);
    return undefined;
  } catch (error) {
    const { message, code, position } = error as {
      message?: string;
      code?: string;
      position?: number;
    };
    const where = typeof position === "number" ? ` ${lineAndColumn(expression, position)}` : "";
    return `JSONata does not parse: ${message ?? String(error)}${where}${code ? ` (${code})` : ""}`;
  }
}

/** JSONata positions count characters up to the end of the offending token. */
function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, Math.max(0, Math.min(position, text.length)));
  const lines = before.split("\n");
  return `at line ${lines.length}, column ${Math.max(1, lines.at(-1)!.length)}`;
}
