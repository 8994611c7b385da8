import { describe, expect, it } from "vitest";
import { type CesqlValue, compile } from "../../../src/triggers/cesql/index.js";

const EVENT = {
  specversion: "1.0",
  id: "e1",
  source: "/shop/eu",
  type: "com.example.order",
  num: "42",
  word: "abc",
  flag: "TRUE",
  int: 7,
  zero: 0,
  yes: true,
  big: 2147483647,
  small: -2147483648,
  real: 1.5,
};

function run(expression: string, attributes: Record<string, string | number | boolean> = EVENT) {
  const compiled = compile(expression);
  if (!compiled.ok) throw new Error(compiled.error.message);
  const { value, errors } = compiled.program.evaluate(attributes);
  const matches = compiled.program.matches(attributes);
  expect(matches).toBe(value === true && errors.length === 0);
  return { value, kinds: errors.map((e) => e.kind), messages: errors.map((e) => e.message) };
}

type Row = [name: string, expression: string, value: CesqlValue, errors: string[]];

function table(rows: Row[]): void {
  it.each(rows)("%s: %s", (_name, expression, value, kinds) => {
    const result = run(expression);
    expect(result.value).toStrictEqual(value);
    expect(result.kinds).toEqual(kinds);
  });
}

describe("32-bit integer arithmetic", () => {
  table([
    ["division truncates toward zero", "-7 / 2", -3, []],
    ["remainder takes the sign of the dividend", "-7 % 2", -1, []],
    ["remainder with a negative divisor", "7 % -2", 1, []],
    ["no negative zero from division", "-1 / 5", 0, []],
    ["no negative zero from multiplication", "0 * -1", 0, []],
    ["addition overflow saturates with a MathError", "big + 1", 2147483647, ["math"]],
    ["subtraction overflow saturates", "small - 1", -2147483648, ["math"]],
    ["multiplication overflow saturates", "big * -2", -2147483648, ["math"]],
    ["large exact product", "46340 * 46340", 2147395600, []],
    ["negating the minimum overflows like ABS", "-small", 2147483647, ["math"]],
    ["minimum divided by -1 overflows", "small / -1", 2147483647, ["math"]],
    ["minimum modulo -1 is 0", "small % -1", 0, []],
    ["division by zero", "int / zero", 0, ["math"]],
    ["modulo by zero", "int % 0", 0, ["math"]],
    ["missing attribute wins over division by zero", "missing / 0", 0, ["missingAttribute"]],
    ["integer literal bounds", "-2147483648 + 2147483647", -1, []],
    ["string operands are cast to Integer", "num + '-2'", 40, []],
    ["string with a plus sign", "'+5' * 2", 10, []],
    ["leading zeros are accepted", "'007' + 0", 7, []],
    ["blanks are not accepted", "' 5' + 0", 0, ["cast"]],
    ["an out-of-range string fails to cast", "'2147483648' + 0", 0, ["cast"]],
    ["a non-integer number attribute is a String", "real + 1", 0, ["cast"]],
    ["booleans cast to 1 and 0", "yes + FALSE", 1, []],
  ]);
});

describe("comparison and equality overloads", () => {
  table([
    ["ordering casts both sides to Integer", "num > 41", true, []],
    ["ordering of two string attributes is numeric", "'10' > '9'", true, []],
    ["ordering fails on a non-numeric string", "word < 1", false, ["cast"]],
    ["= picks the right operand's type: Integer", "num = 42", true, []],
    ["= picks the right operand's type: String", "int = '7'", true, []],
    ["= with a Boolean right operand casts the left", "flag = TRUE", true, []],
    ["= with a String right operand compares text", "TRUE = flag", false, []],
    ["string equality is case-sensitive", "word = 'ABC'", false, []],
    ["failed cast makes = false", "word = 1", false, ["cast"]],
    ["failed cast makes != false as well (zero value)", "word != 1", false, ["cast"]],
    ["attribute on the right: its run-time type picks the overload", "'7' = int", true, []],
    ["attribute on both sides", "num = num", true, []],
    ["Integer attribute against String attribute", "word = int", false, ["cast"]],
    ["a non-integer number attribute compares as text", "real = '1.5'", true, []],
    [
      "TRUE = 'true' and FALSE = 'false' (spec 3.7 example)",
      "TRUE = 'true' AND FALSE = 'false'",
      true,
      [],
    ],
    ["TRUE = 'TRUE' is false (spec 3.7 example)", "TRUE = 'TRUE' OR FALSE = 'FALSE'", false, []],
  ]);
});

describe("logic, errors and short-circuit", () => {
  table([
    ["AND skips the right operand after false", "FALSE AND 1 / 0 = 0", false, []],
    ["OR skips the right operand after true", "TRUE OR missing", true, []],
    [
      "an error on the left makes OR false even if the right is true",
      "(1 / 0 = 0) OR TRUE",
      false,
      ["math"],
    ],
    ["XOR evaluates both sides", "TRUE XOR missing", false, ["missingAttribute"]],
    [
      "an error in a subexpression propagates the zero value",
      "NOT (missing = 1)",
      false,
      ["missingAttribute"],
    ],
    ["NOT casts an Integer to Boolean (spec 3.7)", "NOT 10", false, []],
    ["NOT of zero", "NOT zero", true, []],
    ["NOT of a non-boolean string", "NOT word", false, ["cast"]],
    ["operands of AND are cast to Boolean", "int AND 'true'", true, []],
    [
      "every error is reported, in evaluation order",
      "1 / 0 + missing + INT('x')",
      0,
      ["math", "missingAttribute", "cast"],
    ],
    ["missing attribute alone evaluates to false", "missing", false, ["missingAttribute"]],
    ["missing attribute in an Integer context gives 0", "missing * 5", 0, ["missingAttribute"]],
    ["missing attribute in a String function gives ''", "UPPER(missing)", "", ["missingAttribute"]],
    [
      "NOT LIKE on a missing attribute is false, not true",
      "missing NOT LIKE 'x'",
      false,
      ["missingAttribute"],
    ],
    ["an inherited property is not an attribute", "constructor = ''", false, ["missingAttribute"]],
    ["unknown function: false and MissingFunctionError", "FOO(1)", false, ["missingFunction"]],
    ["wrong arity: false and MissingFunctionError", "LEFT('abc')", false, ["missingFunction"]],
    ["function names ignore case", "lower('AbC')", "abc", []],
    ["EXISTS of an absent attribute", "EXISTS missing", false, []],
    ["EXISTS of a required attribute is always true", "EXISTS specversion AND EXISTS id", true, []],
    ["EXISTS of an inherited property is false", "EXISTS constructor", false, []],
    [
      "identifiers are case-insensitive (attribute names are lower case)",
      "TYPE = 'com.example.order'",
      true,
      [],
    ],
  ]);
});

describe("IN", () => {
  table([
    ["the operand's type is the target", "int IN ('6', '7')", true, []],
    ["a set element that cannot be cast is an error", "int IN (7, 'x')", false, ["cast"]],
    ["attribute elements are compared after casting", "'42' IN (int, num)", true, []],
    ["NOT IN", "word NOT IN ('a', 'b')", true, []],
    ["missing operand", "missing IN (1)", false, ["missingAttribute"]],
    ["missing element makes the whole IN false", "7 IN (missing, 7)", false, ["missingAttribute"]],
    ["Boolean operand with string elements", "yes IN ('false', 'TRUE')", true, []],
    ["String operand: booleans become 'true'", "'true' IN (TRUE)", true, []],
  ]);
});

describe("built-in functions", () => {
  table([
    ["LENGTH counts code points", "LENGTH('a😀b')", 3, []],
    ["CONCAT casts its arguments to String", "CONCAT(int, '-', yes)", "7-true", []],
    ["CONCAT_WS with only the delimiter", "CONCAT_WS('-')", "", []],
    ["CONCAT_WS between values only", "CONCAT_WS(', ', 'a', 'b')", "a, b", []],
    ["UPPER follows Unicode (ß becomes SS)", "UPPER('straße')", "STRASSE", []],
    [
      "TRIM removes Unicode White_Space (NEL, ideographic space)",
      "TRIM('\u0085\u3000 x \u2003')",
      "x",
      [],
    ],
    ["TRIM keeps characters that are not White_Space (BOM)", "TRIM('\ufeffx')", "\ufeffx", []],
    ["LEFT counts code points", "LEFT('😀😀😀', 2)", "😀😀", []],
    ["RIGHT with zero", "RIGHT('abc', 0)", "", []],
    ["LEFT with a negative length", "LEFT('abc', -1)", "abc", ["functionEvaluation"]],
    ["SUBSTRING from a negative position", "SUBSTRING('abcdef', -2)", "ef", []],
    ["SUBSTRING at the last position", "SUBSTRING('abc', 3)", "c", []],
    ["SUBSTRING at -LENGTH", "SUBSTRING('abc', -3, 2)", "ab", []],
    ["SUBSTRING length past the end", "SUBSTRING('abc', 2, 100)", "bc", []],
    ["SUBSTRING with a negative length", "SUBSTRING('abc', 1, -1)", "", ["functionEvaluation"]],
    ["SUBSTRING of the empty string at 1", "SUBSTRING('', 1)", "", ["functionEvaluation"]],
    ["SUBSTRING counts code points", "SUBSTRING('😀ab', 2, 1)", "a", []],
    ["ABS of the minimum", "ABS(small)", 2147483647, ["math"]],
    ["INT of a string attribute", "INT(num)", 42, []],
    ["INT of a bad string", "INT(word)", 0, ["cast"]],
    ["BOOL of an integer", "BOOL(int)", true, []],
    ["BOOL is case-insensitive", "BOOL('fAlSe')", false, []],
    ["STRING of an integer attribute", "STRING(int)", "7", []],
    [
      "an argument error skips the call and gives the zero value",
      "LEFT('abc', INT('x'))",
      "",
      ["cast"],
    ],
    ["an argument error in CONCAT gives ''", "CONCAT('a', 1 / 0)", "", ["math"]],
  ]);
});

describe("strings and literals", () => {
  table([
    ["single-quoted with escaped quote", String.raw`'it\'s'`, "it's", []],
    ["double-quoted with escaped quote", String.raw`"say \"hi\""`, 'say "hi"', []],
    ["the other quote needs no escape", `"it's"`, "it's", []],
    ["a backslash before the other quote is kept", String.raw`"a\'b"`, String.raw`a\'b`, []],
    ["\\\\ is one backslash", String.raw`'a\\'`, "a\\", []],
    ["other backslashes are kept", String.raw`'a\nb'`, String.raw`a\nb`, []],
    ["line breaks inside a literal", "'a\nb'", "a\nb", []],
    ["boolean literals ignore case", "tRuE", true, []],
  ]);
});

describe("evaluate and matches", () => {
  it("matches only a Boolean true without errors", () => {
    const program = (expression: string) => {
      const compiled = compile(expression);
      if (!compiled.ok) throw new Error(compiled.error.message);
      return compiled.program;
    };
    expect(program("'true'").matches(EVENT)).toBe(false);
    expect(program("1").matches(EVENT)).toBe(false);
    expect(program("yes").matches(EVENT)).toBe(true);
    expect(program("flag").matches(EVENT)).toBe(false);
    expect(program("LEFT('abc', -1) = 'abc'").matches(EVENT)).toBe(false);
    expect(
      program("type = 'com.example.order' AND source LIKE '/shop/%' AND EXISTS id").matches(EVENT),
    ).toBe(true);
  });

  it("reports readable error messages", () => {
    expect(run("missing = 1").messages).toEqual(["attribute 'missing' is not present"]);
    expect(run("word + 1").messages).toEqual(["cannot cast 'abc' to Integer"]);
    expect(run("1 / 0").messages).toEqual(["division by zero"]);
    expect(run("FOO()").messages).toEqual(["unknown function FOO"]);
    expect(run("CONCAT_WS()").messages).toEqual(["function CONCAT_WS does not take 0 arguments"]);
  });

  it("returns a fresh error list each time and keeps constant errors", () => {
    const compiled = compile("1 / 0");
    if (!compiled.ok) throw new Error(compiled.error.message);
    const first = compiled.program.evaluate({});
    first.errors.length = 0;
    expect(compiled.program.evaluate({}).errors).toEqual([
      { kind: "math", message: "division by zero" },
    ]);
  });

  it("never throws on attributes that are not a record", () => {
    const compiled = compile("a = 1");
    if (!compiled.ok) throw new Error(compiled.error.message);
    for (const bad of [null, undefined, 42, "text"] as unknown as Record<string, string>[]) {
      expect(compiled.program.matches(bad)).toBe(false);
      const result = compiled.program.evaluate(bad);
      expect(result.value).toBe(false);
    }
    expect(
      compiled.program.evaluate(null as unknown as Record<string, string>).errors[0]?.kind,
    ).toBe("generic");
  });

  it("keeps the source and the tree", () => {
    const compiled = compile("a = 1");
    if (!compiled.ok) throw new Error(compiled.error.message);
    expect(compiled.program.source).toBe("a = 1");
    expect(compiled.program.ast).toEqual({
      kind: "binary",
      operator: "=",
      left: { kind: "attribute", name: "a" },
      right: { kind: "literal", value: 1 },
    });
  });
});
