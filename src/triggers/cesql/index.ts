import type { Expr } from "./ast.js";
import { check } from "./check.js";
import type { Fn } from "./coerce.js";
import { generate } from "./evaluate.js";
import { SyntaxFailure } from "./lexer.js";
import { parse } from "./parser.js";
import { state } from "./runtime.js";
import {
  type CesqlAttributes,
  type CesqlError,
  type CesqlParseError,
  type CesqlValue,
  type StaticType,
  zeroValue,
} from "./types.js";

export type { BinaryOperator, Expr } from "./ast.js";
export { print } from "./print.js";
export type {
  CesqlAttributes,
  CesqlError,
  CesqlErrorKind,
  CesqlParseError,
  CesqlValue,
} from "./types.js";

/** The syntax tree of a compiled expression. */
export type CesqlAst = Expr;

export interface CesqlProgram {
  readonly source: string;
  readonly ast: CesqlAst;
  /** Full ("total") evaluation: a value plus every error raised, as the spec requires. */
  evaluate(attributes: CesqlAttributes): { value: CesqlValue; errors: CesqlError[] };
  /** Filter use: true only when the result is boolean true and no error was raised (fail fast). Must never throw. */
  matches(attributes: CesqlAttributes): boolean;
}

export type CompileResult =
  | { ok: true; program: CesqlProgram }
  | { ok: false; error: CesqlParseError };

/** Parses, type-checks and compiles a CESQL v1.0 expression. Never throws. */
export function compile(expression: string): CompileResult {
  if (typeof expression !== "string") {
    return { ok: false, error: parseError(1, 1, "the expression must be a string") };
  }
  try {
    const ast = parse(expression);
    const typed = check(ast);
    const evaluator = generate(typed);
    const matcher = matcherFor(typed.type, evaluator);
    return { ok: true, program: new Program(expression, ast, typed.type, evaluator, matcher) };
  } catch (error) {
    if (error instanceof SyntaxFailure) {
      const { line, column } = position(expression, error.offset);
      return { ok: false, error: parseError(line, column, error.message) };
    }
    // Not expected (the parser bounds nesting), but compile must not throw.
    return { ok: false, error: parseError(1, 1, `cannot compile expression: ${String(error)}`) };
  }
}

/** Only a Boolean can pass a filter, so other result types compile to a constant false. */
function matcherFor(type: StaticType, evaluator: Fn<CesqlValue>): Fn<boolean> {
  if (type === "Boolean") return evaluator as Fn<boolean>;
  if (type === "Any") return (a) => evaluator(a) === true;
  return () => false;
}

class Program implements CesqlProgram {
  constructor(
    readonly source: string,
    readonly ast: CesqlAst,
    private readonly type: StaticType,
    private readonly evaluator: Fn<CesqlValue>,
    private readonly matcher: Fn<boolean>,
  ) {}

  evaluate(attributes: CesqlAttributes): { value: CesqlValue; errors: CesqlError[] } {
    const errors: CesqlError[] = [];
    state.count = 0;
    state.sink = errors;
    try {
      return { value: this.evaluator(attributes), errors };
    } catch (error) {
      // E.g. a string longer than the engine allows, or attributes that are not an object.
      errors.push({ kind: "generic", message: `evaluation failed: ${String(error)}` });
      return { value: zeroValue(this.type), errors };
    } finally {
      state.sink = null;
    }
  }

  matches(attributes: CesqlAttributes): boolean {
    state.count = 0;
    state.sink = null;
    try {
      return this.matcher(attributes) && state.count === 0;
    } catch {
      return false;
    }
  }
}

function parseError(line: number, column: number, detail: string): CesqlParseError {
  return { kind: "parse", line, column, message: `line ${line}, column ${column}: ${detail}` };
}

/** 1-based line and column (in code points) of a UTF-16 offset; \n, \r\n and \r end lines. */
function position(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    const code = source.charCodeAt(i);
    if (code === 10 || (code === 13 && source.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  let column = 1;
  for (let i = lineStart; i < offset && i < source.length; i++) {
    const code = source.charCodeAt(i);
    // The second half of a surrogate pair does not start a new column.
    if (code < 0xdc00 || code > 0xdfff || i === lineStart || !isHigh(source.charCodeAt(i - 1)))
      column++;
  }
  return { line, column };
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
