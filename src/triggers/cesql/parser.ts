import {
  type BinaryOperator,
  binaryPrecedence,
  type Expr,
  FUNCTION_NAME,
  IDENTIFIER,
  Precedence,
} from "./ast.js";
import { describeToken, SyntaxFailure, type Token, tokenize } from "./lexer.js";
import { INT_MAX } from "./types.js";

/**
 * Limits that keep the recursive passes and evaluation far from a stack overflow: the height of the
 * tree, and the recursion of the parser itself (parentheses, calls and prefix operators each add
 * one or two levels).
 */
const MAX_DEPTH = 1000;
const MAX_NESTING = 1000;

const BINARY_SYMBOLS: Readonly<Record<string, BinaryOperator>> = {
  "*": "*",
  "/": "/",
  "%": "%",
  "+": "+",
  "-": "-",
  "=": "=",
  "!=": "!=",
  "<>": "!=",
  "<": "<",
  "<=": "<=",
  ">": ">",
  ">=": ">=",
};

/** Parses a whole expression; throws SyntaxFailure. */
export function parse(source: string): Expr {
  return new Parser(tokenize(source)).parseAll();
}

/**
 * Precedence climbing: `parseExpression(min)` reads a unary operand, then keeps absorbing binary and
 * postfix (LIKE, IN) operators that bind at least as tightly as `min`.
 */
class Parser {
  private pos = 0;
  /** Recursion depth of the parse functions themselves (parentheses nest without adding tree depth). */
  private nesting = 0;
  /** Height of the tree the last parse function returned. */
  private height = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  parseAll(): Expr {
    const expr = this.parseExpression(0);
    const token = this.peek();
    if (token.kind !== "end") {
      throw this.fail(
        token,
        `expected an operator or end of input but found ${describeToken(token)}`,
      );
    }
    return expr;
  }

  private parseExpression(min: number): Expr {
    this.enter();
    let left = this.parseUnary();
    let height = this.height;
    for (;;) {
      const token = this.peek();
      const negated = token.kind === "keyword" && token.text === "NOT";
      const next = negated ? this.peekAt(1) : token;
      if (next.kind === "keyword" && next.text === "LIKE" && Precedence.like >= min) {
        this.pos += negated ? 2 : 1;
        const pattern = this.next();
        if (pattern.kind !== "string") {
          throw this.fail(
            pattern,
            `expected a string literal after LIKE but found ${describeToken(pattern)}`,
          );
        }
        left = { kind: "like", negated, operand: left, pattern: pattern.text };
        height += 1;
      } else if (next.kind === "keyword" && next.text === "IN" && Precedence.in >= min) {
        this.pos += negated ? 2 : 1;
        const set = this.parseList("IN", false);
        left = { kind: "in", negated, operand: left, set };
        height = Math.max(height, this.height) + 1;
      } else if (negated) {
        throw this.fail(next, `expected LIKE or IN after NOT but found ${describeToken(next)}`);
      } else {
        const operator = binaryOperator(token);
        if (operator === undefined) break;
        const precedence = binaryPrecedence(operator);
        if (precedence < min) break;
        this.pos++;
        const right = this.parseExpression(precedence + 1);
        left = { kind: "binary", operator, left, right };
        height = Math.max(height, this.height) + 1;
      }
      this.checkHeight(height, token);
    }
    this.height = height;
    this.nesting--;
    return left;
  }

  private parseUnary(): Expr {
    this.enter();
    const token = this.next();
    let expr: Expr;
    if (token.kind === "keyword" && token.text === "NOT") {
      expr = { kind: "unary", operator: "NOT", operand: this.parseUnary() };
      this.height += 1;
    } else if (token.kind === "symbol" && (token.text === "-" || token.text === "+")) {
      const following = this.peek();
      if (following.kind === "integer") {
        // A sign directly applied to digits belongs to the literal, so -2147483648 is in range.
        this.pos++;
        expr = this.integer(following, token.text === "-", token);
      } else if (token.text === "-") {
        expr = { kind: "unary", operator: "-", operand: this.parseUnary() };
        this.height += 1;
      } else {
        throw this.fail(
          following,
          `expected digits after '+' but found ${describeToken(following)}`,
        );
      }
    } else {
      expr = this.parsePrimary(token);
    }
    this.checkHeight(this.height, token);
    this.nesting--;
    return expr;
  }

  private parsePrimary(token: Token): Expr {
    this.height = 1;
    switch (token.kind) {
      case "integer":
        return this.integer(token, false, token);
      case "string":
        return { kind: "literal", value: token.text };
      case "symbol":
        if (token.text === "(") {
          const inner = this.parseExpression(0);
          this.expect(")");
          return inner;
        }
        break;
      case "keyword":
        if (token.text === "TRUE" || token.text === "FALSE") {
          return { kind: "literal", value: token.text === "TRUE" };
        }
        if (token.text === "EXISTS") {
          const name = this.next();
          if (name.kind !== "word" || !IDENTIFIER.test(name.text)) {
            throw this.fail(
              name,
              `expected an attribute name after EXISTS but found ${describeToken(name)}`,
            );
          }
          return { kind: "exists", name: name.text.toLowerCase() };
        }
        break;
      case "word":
        return this.parseName(token);
      default:
        break;
    }
    throw this.fail(token, `expected an expression but found ${describeToken(token)}`);
  }

  private parseName(token: Token): Expr {
    const open = this.peek();
    if (open.kind === "symbol" && open.text === "(") {
      if (!FUNCTION_NAME.test(token.text)) {
        throw this.fail(
          token,
          `invalid function name '${token.text}': use letters and underscores`,
        );
      }
      this.pos++;
      const args = this.parseList(token.text.toUpperCase(), true);
      this.height += 1;
      return { kind: "call", name: token.text.toUpperCase(), args };
    }
    if (!IDENTIFIER.test(token.text)) {
      throw this.fail(token, `invalid attribute name '${token.text}': use letters and digits`);
    }
    return { kind: "attribute", name: token.text.toLowerCase() };
  }

  /** Reads `e1, e2, ...)` after an opening parenthesis of a function call or IN set. */
  private parseList(owner: string, allowEmpty: boolean): Expr[] {
    if (owner === "IN") this.expect("(");
    const items: Expr[] = [];
    let height = 0;
    const first = this.peek();
    if (allowEmpty && first.kind === "symbol" && first.text === ")") {
      this.pos++;
      this.height = 0;
      return items;
    }
    for (;;) {
      const token = this.peek();
      if (
        token.kind === "end" ||
        (token.kind === "symbol" && (token.text === ")" || token.text === ","))
      ) {
        const wanted = items.length === 0 && allowEmpty ? "an expression or ')'" : "an expression";
        throw this.fail(token, `expected ${wanted} but found ${describeToken(token)}`);
      }
      items.push(this.parseExpression(0));
      height = Math.max(height, this.height);
      const separator = this.next();
      if (separator.kind === "symbol" && separator.text === ")") break;
      if (separator.kind !== "symbol" || separator.text !== ",") {
        throw this.fail(separator, `expected ',' or ')' but found ${describeToken(separator)}`);
      }
    }
    this.height = height;
    return items;
  }

  private integer(token: Token, negative: boolean, start: Token): Expr {
    const magnitude = Number(token.text);
    const limit = negative ? INT_MAX + 1 : INT_MAX;
    if (magnitude > limit) {
      const text = `${negative ? "-" : ""}${token.text}`;
      throw this.fail(start, `integer literal ${text} is outside the 32-bit range`);
    }
    this.height = 1;
    return { kind: "literal", value: negative ? 0 - magnitude : magnitude };
  }

  private expect(symbol: string): void {
    const token = this.next();
    if (token.kind !== "symbol" || token.text !== symbol) {
      throw this.fail(token, `expected '${symbol}' but found ${describeToken(token)}`);
    }
  }

  private enter(): void {
    if (++this.nesting > MAX_NESTING) {
      throw this.fail(this.peek(), "expression is nested too deeply");
    }
  }

  private checkHeight(height: number, token: Token): void {
    if (height > MAX_DEPTH) throw this.fail(token, "expression is nested too deeply");
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private peekAt(ahead: number): Token {
    return this.tokens[Math.min(this.pos + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.tokens[this.pos]!;
    if (token.kind !== "end") this.pos++;
    return token;
  }

  private fail(token: Token, message: string): SyntaxFailure {
    return new SyntaxFailure(message, token.offset);
  }
}

function binaryOperator(token: Token): BinaryOperator | undefined {
  if (token.kind === "symbol") return BINARY_SYMBOLS[token.text];
  if (
    token.kind === "keyword" &&
    (token.text === "AND" || token.text === "OR" || token.text === "XOR")
  ) {
    return token.text;
  }
  return undefined;
}
