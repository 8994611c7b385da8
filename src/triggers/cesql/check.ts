import type { ArithmeticOperator, BinaryOperator, Expr, LogicalOperator } from "./ast.js";
import { typeOfValue } from "./casts.js";
import { type Builtin, CAST_FUNCTIONS, isKnownFunction, resolveBuiltin } from "./functions.js";
import type { CesqlType, CesqlValue, StaticType } from "./types.js";

/**
 * The type-checked tree the evaluator is generated from: every node knows its static type, whether
 * it is constant (no attribute involved, so it can be computed once at compile time), operators are
 * split by the overload they resolve to, and function calls are bound to their implementation.
 */
export type Typed =
  | Literal
  | Attribute
  | Exists
  | Unary
  | Arithmetic
  | Order
  | Equality
  | Logical
  | Like
  | In
  | Cast
  | Call
  | MissingFunction;

interface Node {
  readonly type: StaticType;
  readonly constant: boolean;
}
export interface Literal extends Node {
  readonly node: "literal";
  readonly value: CesqlValue;
}
export interface Attribute extends Node {
  readonly node: "attribute";
  readonly name: string;
}
export interface Exists extends Node {
  readonly node: "exists";
  readonly name: string;
}
export interface Unary extends Node {
  readonly node: "not" | "negate";
  readonly operand: Typed;
}
export interface Arithmetic extends Node {
  readonly node: "arithmetic";
  readonly operator: ArithmeticOperator;
  readonly left: Typed;
  readonly right: Typed;
}
export interface Order extends Node {
  readonly node: "order";
  readonly operator: "<" | "<=" | ">" | ">=";
  readonly left: Typed;
  readonly right: Typed;
}
export interface Equality extends Node {
  readonly node: "equality";
  readonly negated: boolean;
  /** The overload: the right operand's type (spec 3.7 rule 2.2), "Any" when only known at run time. */
  readonly target: StaticType;
  readonly left: Typed;
  readonly right: Typed;
}
export interface Logical extends Node {
  readonly node: "logical";
  readonly operator: LogicalOperator;
  readonly left: Typed;
  readonly right: Typed;
}
export interface Like extends Node {
  readonly node: "like";
  readonly negated: boolean;
  readonly operand: Typed;
  readonly pattern: string;
}
export interface In extends Node {
  readonly node: "in";
  readonly negated: boolean;
  readonly operand: Typed;
  readonly set: readonly Typed[];
}
export interface Cast extends Node {
  readonly node: "cast";
  readonly type: CesqlType;
  readonly operand: Typed;
}
export interface Call extends Node {
  readonly node: "call";
  readonly builtin: Builtin;
  readonly args: readonly Typed[];
}
export interface MissingFunction extends Node {
  readonly node: "missingFunction";
  readonly message: string;
}

/** Context attributes every valid event has; EXISTS on them is true by definition (spec 3.4.4). */
const REQUIRED = new Set(["specversion", "id", "source", "type"]);

export function check(expr: Expr): Typed {
  switch (expr.kind) {
    case "literal":
      return { node: "literal", type: typeOfValue(expr.value), constant: true, value: expr.value };
    case "attribute":
      return { node: "attribute", type: "Any", constant: false, name: expr.name };
    case "exists":
      return {
        node: "exists",
        type: "Boolean",
        constant: REQUIRED.has(expr.name),
        name: expr.name,
      };
    case "unary": {
      const operand = check(expr.operand);
      const node = expr.operator === "NOT" ? "not" : "negate";
      const type = node === "not" ? "Boolean" : "Integer";
      return { node, type, constant: operand.constant, operand };
    }
    case "binary":
      return checkBinary(expr.operator, check(expr.left), check(expr.right));
    case "like": {
      const operand = check(expr.operand);
      const { negated, pattern } = expr;
      return {
        node: "like",
        type: "Boolean",
        constant: operand.constant,
        negated,
        operand,
        pattern,
      };
    }
    case "in": {
      const operand = check(expr.operand);
      const set = expr.set.map(check);
      const constant = operand.constant && set.every((item) => item.constant);
      return { node: "in", type: "Boolean", constant, negated: expr.negated, operand, set };
    }
    case "call":
      return checkCall(expr.name, expr.args);
  }
}

function checkBinary(operator: BinaryOperator, left: Typed, right: Typed): Typed {
  const constant = left.constant && right.constant;
  switch (operator) {
    case "*":
    case "/":
    case "%":
    case "+":
    case "-":
      return { node: "arithmetic", type: "Integer", constant, operator, left, right };
    case "<":
    case "<=":
    case ">":
    case ">=":
      return { node: "order", type: "Boolean", constant, operator, left, right };
    case "=":
    case "!=":
      return {
        node: "equality",
        type: "Boolean",
        constant,
        negated: operator === "!=",
        target: right.type,
        left,
        right,
      };
    default:
      return { node: "logical", type: "Boolean", constant, operator, left, right };
  }
}

function checkCall(name: string, argExprs: readonly Expr[]): Typed {
  const args = argExprs.map(check);
  const constant = args.every((arg) => arg.constant);
  const castType = Object.hasOwn(CAST_FUNCTIONS, name) ? CAST_FUNCTIONS[name] : undefined;
  if (castType !== undefined && args.length === 1) {
    return { node: "cast", type: castType, constant, operand: args[0]! };
  }
  const builtin = castType === undefined ? resolveBuiltin(name, args.length) : undefined;
  if (builtin !== undefined) {
    return { node: "call", type: builtin.returns, constant, builtin, args };
  }
  const message = isKnownFunction(name)
    ? `function ${name} does not take ${args.length} argument${args.length === 1 ? "" : "s"}`
    : `unknown function ${name}`;
  // Spec 3.5: an invocation that cannot be dispatched evaluates to false with a MissingFunctionError.
  return { node: "missingFunction", type: "Boolean", constant: true, message };
}
