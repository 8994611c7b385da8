import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compile } from "../../../src/triggers/cesql/index.js";
import { compileLike } from "../../../src/triggers/cesql/like.js";
import { quote } from "../../../src/triggers/cesql/print.js";

/** Evaluates `value LIKE pattern`, both given as CESQL source text. */
function like(valueLiteral: string, patternLiteral: string): boolean {
  const compiled = compile(`${valueLiteral} LIKE ${patternLiteral}`);
  if (!compiled.ok) throw new Error(compiled.error.message);
  const { value, errors } = compiled.program.evaluate({});
  expect(errors).toEqual([]);
  return value as boolean;
}

describe("LIKE escapes (source text as written in an expression)", () => {
  it.each([
    ["\\% matches a literal percent sign", "'50%'", String.raw`'50\%'`, true],
    ["\\% does not act as a wildcard", "'50x'", String.raw`'50\%'`, false],
    ["\\_ matches a literal underscore", "'a_b'", String.raw`'a\_b'`, true],
    ["\\_ does not match another character", "'azb'", String.raw`'a\_b'`, false],
    ["escaped and unescaped wildcards mix", "'a%xyz_q'", String.raw`'a\%%\_q'`, true],
    ["backslash before another character is literal", String.raw`'ab\c'`, String.raw`'ab\c'`, true],
    ["a literal backslash does not swallow the next character", "'abc'", String.raw`'ab\c'`, false],
    ["a trailing backslash is literal", String.raw`'ab\\'`, String.raw`'ab\\'`, true],
    // In the source '\\\\' is the string \\, which LIKE reads as one escaped backslash.
    [
      "\\\\ in the pattern matches one backslash before a wildcard",
      String.raw`'a\\xyz'`,
      String.raw`'a\\\\%'`,
      true,
    ],
    ["escaped backslash then escaped percent", String.raw`'a\\%'`, String.raw`'a\\\\\%'`, true],
    ["double-quoted pattern", `'a"b'`, String.raw`"a\"_"`, true],
    ["% matches the empty string", "''", "'%'", true],
    ["_ needs exactly one character", "''", "'_'", false],
    ["_ matches one astral character (a code point)", "'😀'", "'_'", true],
    ["__ does not match one astral character", "'😀'", "'__'", false],
    ["% between astral characters", "'😀x😀'", "'😀%😀'", true],
    ["matching is case-sensitive", "'ABC'", "'abc'", false],
    ["consecutive % are one wildcard", "'abc'", "'a%%%c'", true],
    ["middle segment found at its leftmost place", "'xaybzaybq'", "'x%ayb%q'", true],
    ["_ inside segments between %", "'..a1b..a2b..'", "'%a_b%a_b%'", true],
    ["_ inside segments must fit before the suffix", "'a1b'", "'%a_b%a_b%'", false],
    ["prefix and suffix must not overlap", "'ab'", "'ab%b'", false],
    ["line breaks are ordinary characters", "'a\nb'", "'a_b'", true],
    ["regex metacharacters are literal", "'a.b*c'", "'a.b*c'", true],
    ["regex metacharacters do not act as regex", "'axbbc'", "'a.b*c'", false],
  ])("%s", (_name, value, pattern, expected) => {
    expect(like(value, pattern)).toBe(expected);
  });

  it("casts the operand to String (Integer and Boolean)", () => {
    expect(like("-12", "'-1_'")).toBe(true);
    expect(like("FALSE", "'f%e'")).toBe(true);
  });
});

type RefToken = { kind: "char"; cp: string } | { kind: "one" } | { kind: "any" };

/** Straightforward reference: escapes to tokens, then dynamic programming over code points. */
function referenceLike(value: string, pattern: string): boolean {
  const tokens: RefToken[] = [];
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "\\" && (chars[i + 1] === "%" || chars[i + 1] === "_" || chars[i + 1] === "\\")) {
      tokens.push({ kind: "char", cp: chars[++i]! });
    } else if (ch === "%") tokens.push({ kind: "any" });
    else if (ch === "_") tokens.push({ kind: "one" });
    else tokens.push({ kind: "char", cp: ch });
  }
  const text = Array.from(value);
  let row = new Array<boolean>(text.length + 1).fill(false);
  row[0] = true;
  for (const token of tokens) {
    const next = new Array<boolean>(text.length + 1).fill(false);
    for (let j = 0; j <= text.length; j++) {
      if (token.kind === "any") next[j] = row[j]! || (j > 0 && next[j - 1]!);
      else if (j > 0 && row[j - 1]) next[j] = token.kind === "one" || text[j - 1] === token.cp;
    }
    row = next;
  }
  return row[text.length]!;
}

describe("LIKE matcher against a reference implementation", () => {
  const alphabet = fc.constantFrom("a", "b", "%", "_", "\\", "😀", "x");
  const small = fc.string({ unit: alphabet, maxLength: 10 });

  it("agrees on patterns and values over a small alphabet", () => {
    fc.assert(
      fc.property(small, small, (pattern, value) => {
        expect(compileLike(pattern)(value)).toBe(referenceLike(value, pattern));
      }),
      { numRuns: 5000 },
    );
  });

  it("agrees when the value is built to match the pattern's literal parts", () => {
    fc.assert(
      fc.property(small, fc.array(small, { maxLength: 4 }), (pattern, fillers) => {
        const literal = Array.from(pattern.replace(/\\(.)/gu, "$1"))
          .map((ch, i) =>
            ch === "%" || ch === "_" ? (fillers[i % (fillers.length || 1)] ?? "") : ch,
          )
          .join("");
        expect(compileLike(pattern)(literal)).toBe(referenceLike(literal, pattern));
      }),
      { numRuns: 2000 },
    );
  });

  it("agrees through the whole engine, with the pattern as a quoted literal", () => {
    fc.assert(
      fc.property(small, small, (pattern, value) => {
        const compiled = compile(`x LIKE ${quote(pattern)}`);
        expect(compiled.ok).toBe(true);
        if (compiled.ok)
          expect(compiled.program.matches({ x: value })).toBe(referenceLike(value, pattern));
      }),
      { numRuns: 1000 },
    );
  });

  it("stays linear-ish on inputs that make backtracking matchers explode", () => {
    const match = compileLike("%a_%a_%a_%a_%a_%a_%a_%a_%b_");
    const value = "a".repeat(20_000);
    const started = performance.now();
    expect(match(value)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
