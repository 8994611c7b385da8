import type { ArithmeticOperator } from "./ast.js";
import { castValue, typeOfValue } from "./casts.js";
import type { Fn } from "./coerce.js";
import { type Captured, capture, raise, replay, state } from "./runtime.js";
import {
  type CesqlError,
  type CesqlType,
  type CesqlValue,
  INT_MAX,
  INT_MIN,
  type StaticType,
} from "./types.js";

/**
 * Integer results outside 32 bits raise a MathError and saturate, the rule spec 3.5.2 gives for
 * ABS(-2147483648). `| 0` also turns JavaScript's -0 into 0.
 */
function saturate(n: number, what: string): number {
  if (n > INT_MAX) {
    raise("math", `integer overflow in ${what}`);
    return INT_MAX;
  }
  if (n < INT_MIN) {
    raise("math", `integer overflow in ${what}`);
    return INT_MIN;
  }
  return n | 0;
}

export function negate(operand: Fn<number>): Fn<number> {
  return (a) => {
    const start = state.count;
    const x = operand(a);
    if (state.count !== start) return 0;
    return x === INT_MIN ? saturate(2147483648, "negation") : 0 - x;
  };
}

export function arithmetic(
  operator: ArithmeticOperator,
  left: Fn<number>,
  right: Fn<number>,
): Fn<number> {
  const apply = APPLY[operator];
  return (a) => {
    const start = state.count;
    const x = left(a);
    const y = right(a);
    return state.count === start ? apply(x, y) : 0;
  };
}

const APPLY: Readonly<Record<ArithmeticOperator, (x: number, y: number) => number>> = {
  "+": (x, y) => saturate(x + y, "addition"),
  "-": (x, y) => saturate(x - y, "subtraction"),
  "*": (x, y) => saturate(x * y, "multiplication"),
  "/": (x, y) => {
    if (y === 0) {
      raise("math", "division by zero");
      return 0;
    }
    // Exact: both operands are below 2^31, far inside double precision.
    return saturate(Math.trunc(x / y), "division");
  },
  "%": (x, y) => {
    if (y === 0) {
      raise("math", "modulo by zero");
      return 0;
    }
    return (x % y) | 0;
  },
};

/** The set of an IN whose elements are constants, cast once per possible target type. */
interface CastSet {
  readonly values: ReadonlySet<CesqlValue>;
  /** Errors of the elements themselves and of casting them, in element order. */
  readonly errors: readonly CesqlError[];
  /** Errors of the elements themselves only (reported when the operand failed). */
  readonly ownErrors: readonly CesqlError[];
}

function castSet(elements: readonly Captured[], type: CesqlType): CastSet {
  const values = new Set<CesqlValue>();
  const errors: CesqlError[] = [];
  const ownErrors: CesqlError[] = [];
  for (const element of elements) {
    if (element.errors.length > 0) {
      errors.push(...element.errors);
      ownErrors.push(...element.errors);
      continue;
    }
    const cast = capture(() => castValue(element.value, type));
    values.add(cast.value);
    errors.push(...cast.errors);
  }
  return { values, errors, ownErrors };
}

export const membership = {
  /** Every element is a constant: the set is cast at compile time and looked up by hash. */
  constant(
    operand: Fn<CesqlValue>,
    operandType: StaticType,
    elements: readonly Captured[],
    negated: boolean,
  ): Fn<boolean> {
    const sets: Readonly<Record<CesqlType, CastSet>> = {
      String: castSet(elements, "String"),
      Integer: castSet(elements, "Integer"),
      Boolean: castSet(elements, "Boolean"),
    };
    const fixed = operandType === "Any" ? undefined : sets[operandType];
    return (a) => {
      const start = state.count;
      const x = operand(a);
      const set = fixed ?? sets[typeOfValue(x)];
      if (state.count !== start) {
        replay(set.ownErrors);
        return false;
      }
      if (set.errors.length > 0) {
        replay(set.errors);
        return false;
      }
      return set.values.has(x) !== negated;
    };
  },

  /** Elements read attributes: each is evaluated, then cast to the operand's type and compared. */
  dynamic(
    operand: Fn<CesqlValue>,
    items: readonly Fn<CesqlValue>[],
    negated: boolean,
  ): Fn<boolean> {
    return (a) => {
      const start = state.count;
      const x = operand(a);
      const operandOk = state.count === start;
      const type = typeOfValue(x);
      let found = false;
      for (const item of items) {
        const before = state.count;
        const v = item(a);
        if (operandOk && state.count === before) {
          const cast = typeof v === typeof x ? v : castValue(v, type);
          if (cast === x) found = true;
        }
      }
      return state.count === start && found !== negated;
    };
  },
};
