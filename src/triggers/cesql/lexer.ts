import { KEYWORDS } from "./ast.js";

export type TokenKind = "integer" | "string" | "word" | "keyword" | "symbol" | "end";

export interface Token {
  readonly kind: TokenKind;
  /**
   * integer: the digits; string: the unescaped value; word: the text as written; keyword: upper
   * case; symbol: the operator or punctuation; end: "".
   */
  readonly text: string;
  /** UTF-16 offset of the first character in the source. */
  readonly offset: number;
}

/** Thrown by the lexer and parser; `compile` turns it into a CesqlParseError with line/column. */
export class SyntaxFailure extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = "SyntaxFailure";
  }
}

const SYMBOLS = ["!=", "<>", "<=", ">=", "(", ")", ",", "+", "-", "*", "/", "%", "=", "<", ">"];

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 95 // _
  );
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const code = source.charCodeAt(i);
    if (isSpace(code)) {
      i++;
      continue;
    }
    if (code === 39 || code === 34) {
      const [value, end] = readString(source, i);
      tokens.push({ kind: "string", text: value, offset: i });
      i = end;
      continue;
    }
    if (isWordChar(code)) {
      let end = i + 1;
      while (end < source.length && isWordChar(source.charCodeAt(end))) end++;
      tokens.push(classifyWord(source.slice(i, end), i));
      i = end;
      continue;
    }
    const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
    if (symbol === undefined) throw new SyntaxFailure(unexpectedCharacter(source, i), i);
    tokens.push({ kind: "symbol", text: symbol, offset: i });
    i += symbol.length;
  }
  tokens.push({ kind: "end", text: "", offset: source.length });
  return tokens;
}

function classifyWord(word: string, offset: number): Token {
  if (/^[0-9]+$/.test(word)) return { kind: "integer", text: word, offset };
  const upper = word.toUpperCase();
  if (KEYWORDS.has(upper)) return { kind: "keyword", text: upper, offset };
  return { kind: "word", text: word, offset };
}

/**
 * Reads a quoted literal starting at `start`. Inside it, a backslash before the delimiting quote or
 * before another backslash escapes it; any other backslash is kept as written, so LIKE escapes such
 * as `\%` pass through unchanged. (The spec grammar only names `\'`/`\"`; accepting `\\` as well
 * lets every string value, including one that ends in a backslash, be written as a literal.)
 */
function readString(source: string, start: number): [string, number] {
  const quote = source[start];
  let value = "";
  let chunk = start + 1;
  let i = start + 1;
  while (i < source.length) {
    const ch = source[i];
    if (ch === quote) return [value + source.slice(chunk, i), i + 1];
    if (ch === "\\" && i + 1 < source.length) {
      const next = source[i + 1];
      if (next === quote || next === "\\") {
        value += source.slice(chunk, i) + next;
        i += 2;
        chunk = i;
        continue;
      }
    }
    i++;
  }
  const closing = quote === "'" ? `"'"` : `'"'`;
  throw new SyntaxFailure(`unterminated string literal (no closing ${closing})`, start);
}

function unexpectedCharacter(source: string, offset: number): string {
  const cp = source.codePointAt(offset) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  const printable = cp > 32 && cp < 127;
  const hint = cp === 33 ? " (did you mean '!='?)" : "";
  return printable
    ? `unexpected character '${String.fromCodePoint(cp)}'${hint}`
    : `unexpected character ${hex}`;
}

export function describeToken(token: Token): string {
  switch (token.kind) {
    case "end":
      return "end of input";
    case "integer":
      return `integer ${token.text}`;
    case "string": {
      const shown = token.text.length > 30 ? `${token.text.slice(0, 30)}...` : token.text;
      return `string '${shown}'`;
    }
    case "keyword":
      return `keyword ${token.text}`;
    case "word":
      return `name '${token.text}'`;
    default:
      return `'${token.text}'`;
  }
}
