import { binaryPrecedence, type Expr, Precedence, precedenceOf } from "./ast.js";

/**
 * Canonical text for a tree: upper-case keywords and function names, single-quoted strings, and
 * parentheses only where the grammar needs them. Parsing the result gives back an equal tree.
 */
export function print(expr: Expr): string {
  return printAt(expr, 0);
}

/** Prints `expr` where the surrounding grammar only accepts constructs binding at least `min`. */
function printAt(expr: Expr, min: number): string {
  const text = printBare(expr);
  return precedenceOf(expr) < min ? `(${text})` : text;
}

function printBare(expr: Expr): string {
  switch (expr.kind) {
    case "literal":
      return printLiteral(expr.value);
    case "attribute":
      return expr.name;
    case "exists":
      return `EXISTS ${expr.name}`;
    case "unary": {
      if (expr.operator === "NOT") return `NOT ${printAt(expr.operand, Precedence.unary)}`;
      const operand = expr.operand;
      // "-5" would read back as the literal -5, so a negated non-negative literal keeps parentheses.
      if (operand.kind === "literal" && typeof operand.value === "number" && operand.value >= 0) {
        return `-(${operand.value})`;
      }
      return `-${printAt(operand, Precedence.unary)}`;
    }
    case "binary": {
      const precedence = binaryPrecedence(expr.operator);
      const left = printAt(expr.left, precedence);
      const right = printAt(expr.right, precedence + 1);
      return `${left} ${expr.operator} ${right}`;
    }
    case "like": {
      const not = expr.negated ? "NOT " : "";
      return `${printAt(expr.operand, Precedence.like)} ${not}LIKE ${quote(expr.pattern)}`;
    }
    case "in": {
      const not = expr.negated ? "NOT " : "";
      const set = expr.set.map((item) => printAt(item, 0)).join(", ");
      return `${printAt(expr.operand, Precedence.in)} ${not}IN (${set})`;
    }
    case "call":
      return `${expr.name}(${expr.args.map((arg) => printAt(arg, 0)).join(", ")})`;
  }
}

function printLiteral(value: string | number | boolean): string {
  if (typeof value === "string") return quote(value);
  if (typeof value === "boolean") return value ? "TRUE" : "FALSE";
  return String(value);
}

/**
 * Single-quotes a string. A backslash is doubled only where it would otherwise be read as an
 * escape (before a quote, before another backslash, or last), so LIKE escapes such as `\%` stay
 * readable.
 */
export function quote(value: string): string {
  let out = "'";
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === "'") {
      out += "\\'";
    } else if (ch === "\\") {
      const next = value[i + 1];
      out += next === undefined || next === "'" || next === "\\" ? "\\\\" : "\\";
    } else {
      out += ch;
    }
  }
  return `${out}'`;
}
