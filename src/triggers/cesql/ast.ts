import type { CesqlValue } from "./types.js";

export type ArithmeticOperator = "*" | "/" | "%" | "+" | "-";
export type ComparisonOperator = "=" | "!=" | "<" | "<=" | ">" | ">=";
export type LogicalOperator = "AND" | "OR" | "XOR";
export type BinaryOperator = ArithmeticOperator | ComparisonOperator | LogicalOperator;

/**
 * The syntax tree. It carries no source positions so that trees compare structurally (a printed and
 * re-parsed tree equals the original). `<>` is stored as `!=`, attribute names in lower case,
 * function names in upper case, and `-` directly before an integer literal is part of the literal.
 */
export type Expr =
  | { readonly kind: "literal"; readonly value: CesqlValue }
  | { readonly kind: "attribute"; readonly name: string }
  | { readonly kind: "exists"; readonly name: string }
  | { readonly kind: "unary"; readonly operator: "NOT" | "-"; readonly operand: Expr }
  | {
      readonly kind: "binary";
      readonly operator: BinaryOperator;
      readonly left: Expr;
      readonly right: Expr;
    }
  | {
      readonly kind: "like";
      readonly negated: boolean;
      readonly operand: Expr;
      /** The pattern after string-literal unescaping; `\%`, `\_` and `\\` are still escapes. */
      readonly pattern: string;
    }
  | {
      readonly kind: "in";
      readonly negated: boolean;
      readonly operand: Expr;
      readonly set: readonly Expr[];
    }
  | { readonly kind: "call"; readonly name: string; readonly args: readonly Expr[] };

/**
 * Binding strength, loosest first (spec section 3.6). LIKE and IN are postfix operators that bind
 * tighter than every binary operator; AND, OR and XOR share one level and associate to the left.
 */
export const Precedence = {
  logical: 1,
  comparison: 2,
  additive: 3,
  multiplicative: 4,
  in: 5,
  like: 6,
  unary: 7,
  primary: 8,
} as const;

export function binaryPrecedence(operator: BinaryOperator): number {
  switch (operator) {
    case "AND":
    case "OR":
    case "XOR":
      return Precedence.logical;
    case "+":
    case "-":
      return Precedence.additive;
    case "*":
    case "/":
    case "%":
      return Precedence.multiplicative;
    default:
      return Precedence.comparison;
  }
}

/** The precedence of the construct at the root of `expr`, used to decide on parentheses. */
export function precedenceOf(expr: Expr): number {
  switch (expr.kind) {
    case "binary":
      return binaryPrecedence(expr.operator);
    case "like":
      return Precedence.like;
    case "in":
      return Precedence.in;
    case "unary":
      return Precedence.unary;
    default:
      return Precedence.primary;
  }
}

export const KEYWORDS: ReadonlySet<string> = new Set([
  "AND",
  "OR",
  "XOR",
  "NOT",
  "LIKE",
  "EXISTS",
  "IN",
  "TRUE",
  "FALSE",
]);

/** Attribute names: letters and digits (upper case is folded to lower case). */
export const IDENTIFIER = /^[A-Za-z0-9]+$/;
/** Function names: a letter, then letters and underscores. */
export const FUNCTION_NAME = /^[A-Za-z][A-Za-z_]*$/;
