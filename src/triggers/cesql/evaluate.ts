import { castValue, typeOfValue } from "./casts.js";
import type { Call, Equality, In, Logical, Order, Typed } from "./check.js";
import {
  type Fn,
  readAny,
  readBool,
  readInt,
  readString,
  toBoolFn,
  toIntFn,
  toStringFn,
} from "./coerce.js";
import { compileLike } from "./like.js";
import { arithmetic, membership, negate } from "./operators.js";
import { type Captured, capture, raise, replay, state } from "./runtime.js";
import { type CesqlType, type CesqlValue, type StaticType, zeroValue } from "./types.js";

/**
 * Turns the checked tree into nested closures, once per program, so that evaluating an event runs
 * straight-line code with every operator overload, cast and LIKE pattern already chosen. Constant
 * subtrees are evaluated here and replaced by their value (and their errors, if any).
 *
 * Convention: a closure that raised an error, or whose operand did, returns its type's zero value;
 * operators detect operand failures by comparing `state.count` before and after.
 */
export function generate(t: Typed): Fn<CesqlValue> {
  const fn = generateNode(t);
  return t.constant ? fold(fn) : fn;
}

function asString(t: Typed): Fn<string> {
  if (t.node === "attribute") return readString(t.name);
  return foldIf(t, toStringFn(generate(t), t.type));
}

function asInt(t: Typed): Fn<number> {
  if (t.node === "attribute") return readInt(t.name);
  return foldIf(t, toIntFn(generate(t), t.type));
}

function asBool(t: Typed): Fn<boolean> {
  if (t.node === "attribute") return readBool(t.name);
  return foldIf(t, toBoolFn(generate(t), t.type));
}

function asType(t: Typed, type: StaticType): Fn<CesqlValue> {
  switch (type) {
    case "String":
      return asString(t);
    case "Integer":
      return asInt(t);
    case "Boolean":
      return asBool(t);
    default:
      return generate(t);
  }
}

function generateNode(t: Typed): Fn<CesqlValue> {
  switch (t.node) {
    case "literal": {
      const value = t.value;
      return () => value;
    }
    case "attribute":
      return readAny(t.name);
    case "exists": {
      const name = t.name;
      if (t.constant) return () => true;
      return (a) => {
        const v = a[name];
        return typeof v === "string" || typeof v === "number" || typeof v === "boolean";
      };
    }
    case "not": {
      const operand = asBool(t.operand);
      return (a) => {
        const start = state.count;
        return !operand(a) && state.count === start;
      };
    }
    case "negate":
      return negate(asInt(t.operand));
    case "arithmetic":
      return arithmetic(t.operator, asInt(t.left), asInt(t.right));
    case "order":
      return order(t);
    case "equality":
      return t.target === "Any" ? dynamicEquality(t) : staticEquality(t, t.target);
    case "logical":
      return logical(t);
    case "like": {
      const operand = asString(t.operand);
      const match = compileLike(t.pattern);
      const negated = t.negated;
      const general: Fn<boolean> = (a) => {
        const start = state.count;
        const text = operand(a);
        return state.count === start && match(text) !== negated;
      };
      return t.operand.node === "attribute"
        ? stringFastPath(t.operand.name, match, negated, general)
        : general;
    }
    case "in":
      return generateIn(t);
    case "cast":
      return asType(t.operand, t.type);
    case "call":
      return call(t);
    case "missingFunction": {
      const message = t.message;
      return () => {
        raise("missingFunction", message);
        return false;
      };
    }
  }
}

function order(t: Order): Fn<boolean> {
  const left = asInt(t.left);
  const right = asInt(t.right);
  const compare = COMPARE[t.operator];
  return (a) => {
    const start = state.count;
    const x = left(a);
    const y = right(a);
    return state.count === start && compare(x, y);
  };
}

const COMPARE: Readonly<Record<Order["operator"], (x: number, y: number) => boolean>> = {
  "<": (x, y) => x < y,
  "<=": (x, y) => x <= y,
  ">": (x, y) => x > y,
  ">=": (x, y) => x >= y,
};

function staticEquality(t: Equality, target: CesqlType): Fn<boolean> {
  const left = asType(t.left, target);
  const right = asType(t.right, target);
  const negated = t.negated;
  const general: Fn<boolean> = (a) => {
    const start = state.count;
    const x = left(a);
    const y = right(a);
    return state.count === start && (x === y) !== negated;
  };
  if (t.left.node !== "attribute" || t.right.node !== "literal" || target !== "String")
    return general;
  const literal = t.right.value;
  return stringFastPath(t.left.name, (text) => text === literal, negated, general);
}

/**
 * `attribute <op> constant` on a string attribute, the shape of most filters: test the value
 * directly and leave other types and missing attributes to the general closure.
 */
function stringFastPath(
  name: string,
  test: (text: string) => boolean,
  negated: boolean,
  general: Fn<boolean>,
): Fn<boolean> {
  return (a) => {
    const v = a[name];
    return typeof v === "string" ? test(v) !== negated : general(a);
  };
}

/** `x = attribute`: the overload depends on the attribute's type in this event. */
function dynamicEquality(t: Equality): Fn<boolean> {
  const left = generate(t.left);
  const right = generate(t.right);
  const negated = t.negated;
  return (a) => {
    const start = state.count;
    const x = left(a);
    const y = right(a);
    if (state.count !== start) return false;
    const cast = typeof x === typeof y ? x : castValue(x, typeOfValue(y));
    return state.count === start && (cast === y) !== negated;
  };
}

function logical(t: Logical): Fn<boolean> {
  const left = asBool(t.left);
  const right = asBool(t.right);
  switch (t.operator) {
    // A failed operand evaluates to false, so AND needs no error check: either it short-circuits
    // on a false (possibly failed) left, or returns the right, which is false if it failed.
    case "AND":
      return (a) => left(a) && right(a);
    case "OR":
      return (a) => {
        const start = state.count;
        return left(a) || (right(a) && state.count === start);
      };
    default:
      return (a) => {
        const start = state.count;
        const x = left(a);
        const y = right(a);
        return x !== y && state.count === start;
      };
  }
}

function generateIn(t: In): Fn<boolean> {
  const operand = generate(t.operand);
  if (!t.set.every((item) => item.constant)) {
    return membership.dynamic(operand, t.set.map(generate), t.negated);
  }
  const elements = t.set.map((item) => capture(generate(item)));
  return membership.constant(operand, t.operand.type, elements, t.negated);
}

function call(t: Call): Fn<CesqlValue> {
  const { params, variadic, returns, invoke } = t.builtin;
  const args = t.args.map((arg, i) => asType(arg, params[i] ?? variadic ?? "String"));
  const zero = zeroValue(returns);
  const [f0, f1, f2] = args;
  if (args.length === 0) return () => invoke();
  if (args.length === 1 && f0) {
    return (a) => {
      const start = state.count;
      const x = f0(a);
      return state.count === start ? invoke(x) : zero;
    };
  }
  if (args.length === 2 && f0 && f1) {
    return (a) => {
      const start = state.count;
      const x = f0(a);
      const y = f1(a);
      return state.count === start ? invoke(x, y) : zero;
    };
  }
  if (args.length === 3 && f0 && f1 && f2) {
    return (a) => {
      const start = state.count;
      const x = f0(a);
      const y = f1(a);
      const z = f2(a);
      return state.count === start ? invoke(x, y, z) : zero;
    };
  }
  return (a) => {
    const start = state.count;
    const values = args.map((arg) => arg(a));
    return state.count === start ? invoke(...values) : zero;
  };
}

function fold<T extends CesqlValue>(fn: Fn<T>): Fn<T> {
  let captured: Captured;
  try {
    captured = capture(fn);
  } catch {
    // Too big to compute (e.g. a string over the engine's limit): leave it to run time, where the
    // failure is reported as an evaluation error.
    return fn;
  }
  const value = captured.value as T;
  const errors = captured.errors;
  if (errors.length === 0) return () => value;
  return () => {
    replay(errors);
    return value;
  };
}

function foldIf<T extends CesqlValue>(t: Typed, fn: Fn<T>): Fn<T> {
  return t.constant ? fold(fn) : fn;
}
