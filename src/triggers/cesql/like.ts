/**
 * LIKE patterns, compiled once into a predicate. `%` matches any sequence, `_` exactly one character
 * (a Unicode code point), `\%`, `\_` and `\\` match the character itself, and any other backslash is
 * literal. The common shapes (exact, prefix, suffix, infix) become a single string method call;
 * everything else uses a segment matcher that runs in O(length * pattern) time, whatever the input,
 * unlike a backtracking RegExp.
 */
export type LikeMatcher = (value: string) => boolean;

/** One character wildcard inside a segment. */
const ONE = 0;
type Part = string | typeof ONE;
/** The text between two `%`: literal runs and `_` wildcards. */
type Segment = readonly Part[];

export function compileLike(pattern: string): LikeMatcher {
  const segments = splitPattern(pattern);
  const literals = segments.map(literalText);
  if (literals.every((literal) => literal !== null)) {
    return literalMatcher(literals as string[]);
  }
  return (value) => matchSegments(value, segments);
}

/** The segment's text when it has no `_`, else null. */
function literalText(segment: Segment): string | null {
  if (segment.length === 0) return "";
  const [only] = segment;
  return segment.length === 1 && typeof only === "string" ? only : null;
}

function splitPattern(pattern: string): Segment[] {
  const segments: Part[][] = [[]];
  let current = segments[0]!;
  let text = "";
  const flush = (): void => {
    if (text !== "") current.push(text);
    text = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      const next = pattern[i + 1];
      if (next === "%" || next === "_" || next === "\\") {
        text += next;
        i++;
      } else {
        text += ch;
      }
    } else if (ch === "%") {
      flush();
      // Consecutive % are one wildcard: an empty segment between them changes nothing.
      if (current.length > 0 || segments.length === 1) {
        current = [];
        segments.push(current);
      }
    } else if (ch === "_") {
      flush();
      current.push(ONE);
    } else {
      text += ch;
    }
  }
  flush();
  return segments;
}

/** Patterns made of literal text and `%` only. */
function literalMatcher(literals: string[]): LikeMatcher {
  const first = literals[0]!;
  if (literals.length === 1) return (value) => value === first;
  const last = literals[literals.length - 1]!;
  if (literals.length === 2) {
    if (first === "" && last === "") return () => true;
    if (last === "") return (value) => value.startsWith(first);
    if (first === "") return (value) => value.endsWith(last);
    const min = first.length + last.length;
    return (value) => value.length >= min && value.startsWith(first) && value.endsWith(last);
  }
  const middle = literals.slice(1, -1);
  if (first === "" && last === "" && middle.length === 1) {
    const needle = middle[0]!;
    return (value) => value.includes(needle);
  }
  const min = literals.reduce((sum, literal) => sum + literal.length, 0);
  return (value) => {
    if (value.length < min || !value.startsWith(first) || !value.endsWith(last)) return false;
    let pos = first.length;
    const end = value.length - last.length;
    for (const literal of middle) {
      const at = value.indexOf(literal, pos);
      if (at < 0 || at + literal.length > end) return false;
      pos = at + literal.length;
    }
    return true;
  };
}

/**
 * The first segment is anchored at the start and the last at the end; each middle segment is
 * matched at its leftmost position, which is optimal because a segment always spans the same
 * number of characters wherever it matches.
 */
function matchSegments(value: string, segments: readonly Segment[]): boolean {
  let pos = matchAt(value, 0, segments[0]!);
  if (pos < 0) return false;
  const count = segments.length;
  if (count === 1) return pos === value.length;
  for (let k = 1; k < count - 1; k++) {
    pos = findFrom(value, pos, segments[k]!);
    if (pos < 0) return false;
  }
  const last = segments[count - 1]!;
  for (let start = pos; start <= value.length; start++) {
    if (!splitsPair(value, start) && matchAt(value, start, last) === value.length) return true;
  }
  return false;
}

function findFrom(value: string, from: number, segment: Segment): number {
  for (let start = from; start <= value.length; start++) {
    if (splitsPair(value, start)) continue;
    const end = matchAt(value, start, segment);
    if (end >= 0) return end;
  }
  return -1;
}

/** The end offset if `segment` matches at `start`, else -1. */
function matchAt(value: string, start: number, segment: Segment): number {
  let pos = start;
  for (const part of segment) {
    if (part === ONE) {
      if (pos >= value.length) return -1;
      pos += isPairAt(value, pos) ? 2 : 1;
    } else {
      if (!value.startsWith(part, pos)) return -1;
      pos += part.length;
    }
  }
  return pos;
}

function isPairAt(value: string, pos: number): boolean {
  const high = value.charCodeAt(pos);
  if (high < 0xd800 || high > 0xdbff) return false;
  const low = value.charCodeAt(pos + 1);
  return low >= 0xdc00 && low <= 0xdfff;
}

/** True when `pos` falls between the two halves of a surrogate pair. */
function splitsPair(value: string, pos: number): boolean {
  return pos > 0 && pos < value.length && isPairAt(value, pos - 1);
}
