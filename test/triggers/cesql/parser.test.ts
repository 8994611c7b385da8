import { describe, expect, it } from "vitest";
import { compile, type Expr, print } from "../../../src/triggers/cesql/index.js";

function ast(expression: string): Expr {
  const compiled = compile(expression);
  if (!compiled.ok) throw new Error(compiled.error.message);
  return compiled.program.ast;
}

/** Fully parenthesized prefix rendering, so a test can state the tree's shape in one line. */
function shape(expr: Expr): string {
  switch (expr.kind) {
    case "literal":
      if (typeof expr.value === "boolean") return expr.value ? "TRUE" : "FALSE";
      return typeof expr.value === "string" ? `'${expr.value}'` : String(expr.value);
    case "attribute":
      return expr.name;
    case "exists":
      return `(EXISTS ${expr.name})`;
    case "unary":
      return `(${expr.operator} ${shape(expr.operand)})`;
    case "binary":
      return `(${expr.operator} ${shape(expr.left)} ${shape(expr.right)})`;
    case "like":
      return `(${expr.negated ? "NOT LIKE" : "LIKE"} ${shape(expr.operand)} '${expr.pattern}')`;
    case "in":
      return `(${expr.negated ? "NOT IN" : "IN"} ${shape(expr.operand)} ${expr.set.map(shape).join(" ")})`;
    case "call":
      return `(${expr.name}${expr.args.map((arg) => ` ${shape(arg)}`).join("")})`;
  }
}

describe("parse errors", () => {
  it.each([
    [
      "unclosed call reports the end of input",
      "ABC(",
      1,
      5,
      "expected an expression or ')' but found end of input",
    ],
    [
      "LIKE needs a string literal pattern",
      "x LIKE 123",
      1,
      8,
      "expected a string literal after LIKE but found integer 123",
    ],
    [
      "LIKE rejects an attribute as pattern",
      "x LIKE y",
      1,
      8,
      "expected a string literal after LIKE but found name 'y'",
    ],
    ["unclosed parenthesis", "(a = 1 OR b = 2", 1, 16, "expected ')' but found end of input"],
    ["missing right operand", "a +", 1, 4, "expected an expression but found end of input"],
    [
      "two operands without operator",
      "a b",
      1,
      3,
      "expected an operator or end of input but found name 'b'",
    ],
    [
      "NOT must introduce LIKE or IN after an operand",
      "a NOT b",
      1,
      7,
      "expected LIKE or IN after NOT but found name 'b'",
    ],
    ["empty expression", "", 1, 1, "expected an expression but found end of input"],
    ["only blanks", "  \n ", 2, 2, "expected an expression but found end of input"],
    [
      "unterminated single-quoted string points at its start",
      "a = 'abc",
      1,
      5,
      `unterminated string literal (no closing "'")`,
    ],
    [
      "unterminated double-quoted string",
      'a = "abc\\"',
      1,
      5,
      `unterminated string literal (no closing '"')`,
    ],
    [
      "doubled quote is not an escape",
      "'it''s'",
      1,
      5,
      "expected an operator or end of input but found string 's'",
    ],
    ["unknown character", "a # b", 1, 3, "unexpected character '#'"],
    ["lone exclamation mark", "a ! b", 1, 3, "unexpected character '!' (did you mean '!='?)"],
    ["control character shown as code point", "a \u0007 b", 1, 3, "unexpected character U+0007"],
    [
      "integer above 2^31-1",
      "2147483648",
      1,
      1,
      "integer literal 2147483648 is outside the 32-bit range",
    ],
    [
      "integer below -2^31, position of the sign",
      "x = -2147483649",
      1,
      5,
      "integer literal -2147483649 is outside the 32-bit range",
    ],
    ["empty IN set", "x IN ()", 1, 7, "expected an expression but found ')'"],
    ["IN without parentheses", "x IN 1", 1, 6, "expected '(' but found integer 1"],
    ["trailing comma in call", "CONCAT('a',)", 1, 12, "expected an expression but found ')'"],
    ["missing comma in IN set", "x IN (1 2)", 1, 9, "expected ',' or ')' but found integer 2"],
    [
      "EXISTS needs an attribute name",
      "EXISTS 'id'",
      1,
      8,
      "expected an attribute name after EXISTS but found string 'id'",
    ],
    [
      "EXISTS of a keyword",
      "EXISTS in",
      1,
      8,
      "expected an attribute name after EXISTS but found keyword IN",
    ],
    [
      "underscore in attribute name",
      "my_ext = 1",
      1,
      1,
      "invalid attribute name 'my_ext': use letters and digits",
    ],
    [
      "digit in function name",
      "LOG10(1)",
      1,
      1,
      "invalid function name 'LOG10': use letters and underscores",
    ],
    ["unary plus only before digits", "+x", 1, 2, "expected digits after '+' but found name 'x'"],
    [
      "keyword where an operand is expected",
      "a = AND",
      1,
      5,
      "expected an expression but found keyword AND",
    ],
    [
      "line and column after a newline",
      "a = 1 AND\n  b = )",
      2,
      7,
      "expected an expression but found ')'",
    ],
    [
      "CRLF counts as one line break",
      "a = 1\r\nAND )",
      2,
      5,
      "expected an expression but found ')'",
    ],
    ["columns count code points, not UTF-16 units", "'😀😀' = #", 1, 8, "unexpected character '#'"],
  ])("%s: %s", (_name, expression, line, column, message) => {
    const compiled = compile(expression);
    expect(compiled.ok).toBe(false);
    if (compiled.ok) return;
    expect(compiled.error).toEqual({
      kind: "parse",
      line,
      column,
      message: `line ${line}, column ${column}: ${message}`,
    });
  });

  it.each([
    ["parentheses", `${"(".repeat(5000)}1${")".repeat(5000)}`],
    ["NOT chain", `${"NOT ".repeat(100_000)}true`],
    ["minus chain", `${"-".repeat(100_000)}1`],
    ["left-deep OR chain", Array.from({ length: 5000 }, (_, i) => `x = ${i}`).join(" OR ")],
    ["nested calls", `${"ABS(".repeat(5000)}1${")".repeat(5000)}`],
  ])(
    "refuses pathological nesting (%s) with a parse error instead of overflowing the stack",
    (_name, expression) => {
      const compiled = compile(expression);
      expect(compiled.ok).toBe(false);
      if (!compiled.ok) expect(compiled.error.message).toContain("expression is nested too deeply");
    },
  );

  it("accepts 999 levels and evaluates them", () => {
    const expression = Array.from({ length: 999 }, (_, i) => `x = ${i}`).join(" OR ");
    const compiled = compile(expression);
    expect(compiled.ok).toBe(true);
    if (compiled.ok) expect(compiled.program.matches({ x: "998" })).toBe(true);
  });

  it("never throws on input that is not a string", () => {
    const compiled = compile(42 as unknown as string);
    expect(compiled.ok).toBe(false);
  });
});

describe("precedence and associativity", () => {
  it.each([
    ["* binds tighter than +", "1 + 2 * 3", "(+ 1 (* 2 3))"],
    ["/ and % share the level of *, left to right", "8 / 4 % 3 * 2", "(* (% (/ 8 4) 3) 2)"],
    ["+ and - are left-associative", "1 - 2 + 3", "(+ (- 1 2) 3)"],
    ["arithmetic binds tighter than comparison", "a + 1 = b * 2", "(= (+ a 1) (* b 2))"],
    ["comparison binds tighter than AND", "a = 1 AND b < 2", "(AND (= a 1) (< b 2))"],
    [
      "AND, OR and XOR share one level, left to right (spec 3.6)",
      "a OR b AND c XOR d",
      "(XOR (AND (OR a b) c) d)",
    ],
    ["AND does not bind tighter than OR", "a AND b OR c AND d", "(AND (OR (AND a b) c) d)"],
    ["parentheses override", "a OR (b AND c)", "(OR a (AND b c))"],
    ["NOT binds tighter than comparison", "NOT a = b", "(= (NOT a) b)"],
    ["NOT binds tighter than LIKE", "NOT a LIKE 'x'", "(LIKE (NOT a) 'x')"],
    ["NOT of EXISTS", "NOT EXISTS a", "(NOT (EXISTS a))"],
    ["unary minus binds tighter than *", "-a * b", "(* (- a) b)"],
    ["minus before digits is part of the literal", "-5 * 2", "(* -5 2)"],
    ["double minus negates a negative literal", "--10", "(- -10)"],
    ["minus before a parenthesis is an operator", "-(5)", "(- 5)"],
    ["binary minus then a negative literal", "4 - -1", "(- 4 -1)"],
    ["binary minus without spaces", "4-1", "(- 4 1)"],
    ["plus sign before digits", "+5 + +5", "(+ 5 5)"],
    ["LIKE binds tighter than +", "a + b LIKE 'x'", "(+ a (LIKE b 'x'))"],
    ["IN binds tighter than *", "a * b IN (1, 2)", "(* a (IN b 1 2))"],
    ["LIKE binds tighter than IN", "a LIKE 'x' IN (TRUE)", "(IN (LIKE a 'x') TRUE)"],
    ["IN after IN nests to the left", "a IN (1) IN (TRUE)", "(IN (IN a 1) TRUE)"],
    [
      "NOT LIKE and NOT IN",
      "a NOT LIKE 'x' AND b NOT IN (1)",
      "(AND (NOT LIKE a 'x') (NOT IN b 1))",
    ],
    [
      "function call arguments are full expressions",
      "LEFT(a || 1, 1 + 1)".replace("||", "OR"),
      "(LEFT (OR a 1) (+ 1 1))",
    ],
    [
      "keywords and function names ignore case",
      "not a and B or c Like 'x' or length(d) in (1)",
      "(OR (OR (AND (NOT a) b) (LIKE c 'x')) (IN (LENGTH d) 1))",
    ],
    ["<> is stored as !=", "a <> b", "(!= a b)"],
    ["comparisons are left-associative", "1 < 2 = TRUE", "(= (< 1 2) TRUE)"],
    ["EXISTS lower-cases the name", "EXISTS SOURCE", "(EXISTS source)"],
  ])("%s: %s", (_name, expression, expected) => {
    expect(shape(ast(expression))).toBe(expected);
  });
});

describe("print", () => {
  it.each([
    ["canonical keywords and single quotes", 'a <> "b" and not c', "a != 'b' AND NOT c"],
    ["drops redundant parentheses", "((a = 1)) OR ((b))", "a = 1 OR b"],
    ["keeps parentheses the grammar needs", "(a OR b) AND c", "a OR b AND c"],
    ["right-nested same-level operators keep parentheses", "a - (b - c)", "a - (b - c)"],
    ["negated non-negative literal", "-(5)", "-(5)"],
    ["negated negative literal", "--5", "--5"],
    ["postfix operand of lower precedence", "(a + b) LIKE 'x%'", "(a + b) LIKE 'x%'"],
    ["IN operand of a LIKE", "(a IN (1)) LIKE 'true'", "(a IN (1)) LIKE 'true'"],
    ["NOT of a comparison", "NOT (a = b)", "NOT (a = b)"],
    ["upper-cases function names", "concat_ws(',', a)", "CONCAT_WS(',', a)"],
    [
      "escapes quotes and backslashes that would be read as escapes",
      `"it's \\\\" = x`,
      "'it\\'s \\\\' = x",
    ],
    ["keeps LIKE escapes readable", "x LIKE 'a\\%b\\_c'", "x LIKE 'a\\%b\\_c'"],
    ["integers", "-2147483648 < 2147483647", "-2147483648 < 2147483647"],
  ])("%s", (_name, expression, expected) => {
    const printed = print(ast(expression));
    expect(printed).toBe(expected);
    expect(ast(printed)).toEqual(ast(expression));
  });
});
