import { raise } from "./runtime.js";
import { type CesqlType, type CesqlValue, INT_MAX, INT_MIN } from "./types.js";

/**
 * A built-in function overload. Arguments arrive already cast to `params` (and, past them, to
 * `variadic`), so implementations can trust their types.
 */
export interface Builtin {
  readonly name: string;
  readonly params: readonly CesqlType[];
  /** Type of the extra arguments of a variadic overload. */
  readonly variadic?: CesqlType;
  readonly returns: CesqlType;
  readonly invoke: (...args: CesqlValue[]) => CesqlValue;
}

const S = "String";
const I = "Integer";

const BUILTINS: readonly Builtin[] = [
  { name: "LENGTH", params: [S], returns: I, invoke: (x) => codePointLength(x as string) },
  {
    name: "CONCAT",
    params: [],
    variadic: S,
    returns: S,
    invoke: (...parts) => parts.join(""),
  },
  {
    name: "CONCAT_WS",
    params: [S],
    variadic: S,
    returns: S,
    invoke: (delimiter, ...parts) => parts.join(delimiter as string),
  },
  { name: "LOWER", params: [S], returns: S, invoke: (x) => (x as string).toLowerCase() },
  { name: "UPPER", params: [S], returns: S, invoke: (x) => (x as string).toUpperCase() },
  { name: "TRIM", params: [S], returns: S, invoke: (x) => trimUnicode(x as string) },
  { name: "LEFT", params: [S, I], returns: S, invoke: (x, n) => left(x as string, n as number) },
  { name: "RIGHT", params: [S, I], returns: S, invoke: (x, n) => right(x as string, n as number) },
  {
    name: "SUBSTRING",
    params: [S, I],
    returns: S,
    invoke: (x, pos) => substring(x as string, pos as number, undefined),
  },
  {
    name: "SUBSTRING",
    params: [S, I, I],
    returns: S,
    invoke: (x, pos, len) => substring(x as string, pos as number, len as number),
  },
  { name: "ABS", params: [I], returns: I, invoke: (x) => abs(x as number) },
];

/** INT, BOOL and STRING are casts: their single argument may have any type. */
export const CAST_FUNCTIONS: Readonly<Record<string, CesqlType>> = {
  INT: "Integer",
  BOOL: "Boolean",
  STRING: "String",
};

/** Overload resolution by arity (spec 3.5: overloads differ by arity only). */
export function resolveBuiltin(name: string, arity: number): Builtin | undefined {
  return BUILTINS.find(
    (b) =>
      b.name === name &&
      (b.variadic === undefined ? b.params.length === arity : arity >= b.params.length),
  );
}

export function isKnownFunction(name: string): boolean {
  return Object.hasOwn(CAST_FUNCTIONS, name) || BUILTINS.some((b) => b.name === name);
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Strings count characters as code points (spec 3.1: a sequence of Unicode characters). */
function chars(x: string): string[] | null {
  return SURROGATE.test(x) ? Array.from(x) : null;
}

function codePointLength(x: string): number {
  const cps = chars(x);
  return cps === null ? x.length : cps.length;
}

function slice(x: string, start: number, end: number): string {
  const cps = chars(x);
  return cps === null ? x.slice(start, end) : cps.slice(start, end).join("");
}

function left(x: string, n: number): string {
  if (n < 0) {
    raise("functionEvaluation", `LEFT: length ${n} is negative`);
    return x;
  }
  return slice(x, 0, n);
}

function right(x: string, n: number): string {
  if (n < 0) {
    raise("functionEvaluation", `RIGHT: length ${n} is negative`);
    return x;
  }
  const length = codePointLength(x);
  return n >= length ? x : slice(x, length - n, length);
}

function substring(x: string, pos: number, len: number | undefined): string {
  const length = codePointLength(x);
  if (pos > length || pos < -length) {
    raise(
      "functionEvaluation",
      `SUBSTRING: position ${pos} is outside a string of length ${length}`,
    );
    return "";
  }
  if (len !== undefined && len < 0) {
    raise("functionEvaluation", `SUBSTRING: length ${len} is negative`);
    return "";
  }
  if (pos === 0) return "";
  const start = pos > 0 ? pos - 1 : length + pos;
  const end = len === undefined ? length : Math.min(length, start + len);
  return slice(x, start, end);
}

function abs(x: number): number {
  if (x === INT_MIN) {
    raise("math", "ABS: the absolute value of -2147483648 does not fit in 32 bits");
    return INT_MAX;
  }
  return x < 0 ? 0 - x : x;
}

/** Characters with the Unicode White_Space property (String.prototype.trim differs on U+0085 and U+FEFF). */
function isWhiteSpace(code: number): boolean {
  return (
    (code >= 0x09 && code <= 0x0d) ||
    code === 0x20 ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

function trimUnicode(x: string): string {
  let start = 0;
  let end = x.length;
  while (start < end && isWhiteSpace(x.charCodeAt(start))) start++;
  while (end > start && isWhiteSpace(x.charCodeAt(end - 1))) end--;
  return x.slice(start, end);
}
