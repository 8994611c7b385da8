import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CesqlValue, compile, type Expr, print } from "../../../src/triggers/cesql/index.js";

type Attributes = Record<string, string | number | boolean>;

const KEYWORDS = new Set(["AND", "OR", "XOR", "NOT", "LIKE", "EXISTS", "IN", "TRUE", "FALSE"]);
const ERROR_KINDS = new Set([
  "math",
  "cast",
  "missingFunction",
  "functionEvaluation",
  "missingAttribute",
  "generic",
]);

// Attribute names: a small pool (so generated events hit them) plus random ones. Names starting
// with "z" are reserved for the literal-lifting property below.
const name = fc.oneof(
  fc.constantFrom("a", "b", "c", "id", "type", "source", "constructor"),
  fc.stringMatching(/^[a-h][a-z0-9]{0,4}$/).filter((n) => !KEYWORDS.has(n.toUpperCase())),
);
const text = fc.oneof(
  fc.string({
    unit: fc.constantFrom("a", "B", " ", "'", '"', "\\", "%", "_", "😀", "\n", "1", "-", "true"),
    maxLength: 6,
  }),
  fc.constantFrom("", "true", "FALSE", "7", "-12", "2147483648", "abc"),
  fc.string({ unit: "binary", maxLength: 5 }),
);
const int32 = fc.oneof(
  fc.integer({ min: -2147483648, max: 2147483647 }),
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(-2147483648, 2147483647),
);
const functionName = fc.constantFrom(
  "LENGTH",
  "CONCAT",
  "CONCAT_WS",
  "LOWER",
  "UPPER",
  "TRIM",
  "LEFT",
  "RIGHT",
  "SUBSTRING",
  "ABS",
  "INT",
  "BOOL",
  "STRING",
  "MY_FN",
);

const literal: fc.Arbitrary<Expr> = fc
  .oneof(int32, fc.boolean(), text)
  .map((value) => ({ kind: "literal", value }) as const);

/** Syntax trees of every shape the grammar allows. */
const expr: fc.Arbitrary<Expr> = fc.letrec<{ expr: Expr }>((tie) => {
  const sub = tie("expr");
  return {
    expr: fc.oneof(
      { depthSize: "small", maxDepth: 6, withCrossShrink: true },
      literal,
      name.map((n) => ({ kind: "attribute", name: n }) as const),
      name.map((n) => ({ kind: "exists", name: n }) as const),
      fc.record({
        kind: fc.constant("unary"),
        operator: fc.constantFrom("NOT", "-"),
        operand: sub,
      }),
      fc.record({
        kind: fc.constant("binary"),
        operator: fc.constantFrom(
          "*",
          "/",
          "%",
          "+",
          "-",
          "=",
          "!=",
          "<",
          "<=",
          ">",
          ">=",
          "AND",
          "OR",
          "XOR",
        ),
        left: sub,
        right: sub,
      }),
      fc.record({ kind: fc.constant("like"), negated: fc.boolean(), operand: sub, pattern: text }),
      fc.record({
        kind: fc.constant("in"),
        negated: fc.boolean(),
        operand: sub,
        set: fc.array(sub, { minLength: 1, maxLength: 3 }),
      }),
      fc.record({
        kind: fc.constant("call"),
        name: functionName,
        args: fc.array(sub, { maxLength: 3 }),
      }),
    ),
  };
}).expr;

const attributeValue = fc.oneof(
  text,
  int32,
  fc.boolean(),
  fc.double(),
  fc.constantFrom(0, -0, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40),
);
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
  fc.oneof(
    name,
    fc.constantFrom("toString", "__proto__", "hasOwnProperty"),
    fc.string({ maxLength: 4 }),
  ),
  attributeValue,
  { maxKeys: 8 },
);

/** Tokens of the language (and a few near misses), to build strings that get past the lexer. */
const token = fc.constantFrom(
  "(",
  ")",
  ",",
  "+",
  "-",
  "*",
  "/",
  "%",
  "=",
  "!=",
  "<>",
  "<",
  "<=",
  ">",
  ">=",
  "AND",
  "or",
  "Xor",
  "NOT",
  "LIKE",
  "EXISTS",
  "in",
  "TRUE",
  "false",
  "'a%'",
  "'it\\'s'",
  '"x_"',
  "'",
  '"',
  "\\",
  "0",
  "7",
  "-2147483648",
  "2147483648",
  "a",
  "b",
  "ID",
  "LENGTH",
  "concat_ws",
  "ABS",
  "SUBSTRING",
  "INT",
  "foo_bar",
  "9lives",
  "😀",
  "#",
  "!",
);
const tokenSoup = fc
  .array(fc.tuple(token, fc.constantFrom(" ", "", "\n", "\t")), { maxLength: 14 })
  .map((parts) => parts.map(([t, sep]) => t + sep).join(""));

/** Valid expressions with one random edit: near misses reach the parser's error paths. */
const nearMiss = fc
  .tuple(expr, fc.nat(), fc.nat({ max: 3 }), fc.oneof(token, fc.constant("")))
  .map(([tree, at, cut, insert]) => {
    const source = print(tree);
    const i = at % (source.length + 1);
    return source.slice(0, i) + insert + source.slice(i + cut);
  });

function checkCompileResult(source: string): void {
  const result = compile(source);
  if (!result.ok) {
    expect(result.error.kind).toBe("parse");
    expect(result.error.line).toBeGreaterThanOrEqual(1);
    expect(result.error.column).toBeGreaterThanOrEqual(1);
    expect(
      result.error.message.startsWith(`line ${result.error.line}, column ${result.error.column}: `),
    ).toBe(true);
    return;
  }
  // Whatever parses prints to text that parses back to the same tree.
  const printed = print(result.program.ast);
  const again = compile(printed);
  expect(again.ok && again.program.ast).toEqual(result.program.ast);
}

/** Runs both evaluation modes and checks the invariants that hold for every expression. */
function checkEvaluation(
  source: string,
  attrs: Attributes,
): { value: CesqlValue; kinds: string[] } {
  const compiled = compile(source);
  if (!compiled.ok) throw new Error(compiled.error.message);
  const { value, errors } = compiled.program.evaluate(attrs);
  expect(["string", "number", "boolean"]).toContain(typeof value);
  if (typeof value === "number") {
    expect(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647).toBe(true);
    expect(Object.is(value, -0)).toBe(false);
  }
  for (const error of errors) expect(ERROR_KINDS.has(error.kind)).toBe(true);
  expect(compiled.program.matches(attrs)).toBe(value === true && errors.length === 0);
  expect(compiled.program.evaluate(attrs)).toEqual({ value, errors });
  return { value, kinds: errors.map((e) => e.kind) };
}

/** Replaces every literal operand with an attribute holding the same value. */
function liftLiterals(tree: Expr, attrs: Attributes): Expr {
  const lift = (e: Expr): Expr => {
    switch (e.kind) {
      case "literal": {
        const attribute = `z${Object.keys(attrs).length}`;
        attrs[attribute] = e.value;
        return { kind: "attribute", name: attribute };
      }
      case "unary":
        return { ...e, operand: lift(e.operand) };
      case "binary":
        return { ...e, left: lift(e.left), right: lift(e.right) };
      case "like":
        return { ...e, operand: lift(e.operand) };
      case "in":
        return { ...e, operand: lift(e.operand), set: e.set.map(lift) };
      case "call":
        return { ...e, args: e.args.map(lift) };
      default:
        return e;
    }
  };
  return lift(tree);
}

describe("compile never throws", () => {
  it("on arbitrary Unicode strings", () => {
    fc.assert(fc.property(fc.string({ unit: "binary", maxLength: 40 }), checkCompileResult), {
      numRuns: 3000,
    });
  });

  it("on arbitrary strings with lone surrogates and control characters", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
        checkCompileResult,
      ),
      { numRuns: 1000 },
    );
  });

  it("on token soups that reach the parser and type checker", () => {
    fc.assert(fc.property(tokenSoup, checkCompileResult), { numRuns: 5000 });
  });

  it("on valid expressions with one random edit", () => {
    fc.assert(fc.property(nearMiss, checkCompileResult), { numRuns: 3000 });
  });
});

describe("printing", () => {
  it("print(ast) parses back to an equal tree, for trees of every shape", () => {
    fc.assert(
      fc.property(expr, (tree) => {
        const printed = print(tree);
        const compiled = compile(printed);
        expect(compiled.ok ? compiled.program.ast : compiled.error).toEqual(tree);
        expect(compiled.ok && print(compiled.program.ast)).toBe(printed);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("evaluation never throws and both modes agree", () => {
  it("on generated expressions and arbitrary attribute maps", () => {
    fc.assert(
      fc.property(expr, attributes, (tree, attrs) => {
        checkEvaluation(print(tree), attrs);
      }),
      { numRuns: 3000 },
    );
  });

  it("on token soups and edited expressions that compile", () => {
    fc.assert(
      fc.property(fc.oneof(tokenSoup, nearMiss), attributes, (source, attrs) => {
        if (compile(source).ok) checkEvaluation(source, attrs);
      }),
      { numRuns: 3000 },
    );
  });

  it("constant folding gives what evaluating the same values from attributes gives", () => {
    fc.assert(
      fc.property(expr, attributes, (tree, attrs) => {
        const lifted: Attributes = { ...attrs };
        for (const key of Object.keys(lifted)) if (key.startsWith("z")) delete lifted[key];
        const base = { ...lifted };
        const dynamicTree = liftLiterals(tree, lifted);
        expect(checkEvaluation(print(dynamicTree), lifted)).toEqual(
          checkEvaluation(print(tree), base),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
