/**
 * The raw bytes of the `data` members of a structured or batch body. The CloudEvents SDK keeps
 * JSON data as the bytes it was sent as (its JSON reader returns the member's raw bytes), so a
 * broker hands a subscriber JSON data with its whitespace, key order and number forms intact;
 * parsing and re-encoding would not.
 *
 * Scans bytes: every JSON structural character is ASCII, and no byte of a multi-byte UTF-8
 * character is, so byte offsets found here cut the body exactly where the JSON text does.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
/** `"data"` with its quotes. */
const DATA_KEY = Buffer.from('"data"');

/** Thrown when the bytes are not the JSON the caller said they were. */
class NotJson extends Error {}

class Scanner {
  constructor(private readonly body: Buffer) {}

  at(i: number): number {
    if (i >= this.body.length) throw new NotJson();
    return this.body[i]!;
  }

  skipWhitespace(i: number): number {
    const body = this.body;
    while (i < body.length) {
      const b = body[i]!;
      if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) break;
      i++;
    }
    return i;
  }

  /** `i` at an opening quote; returns the index after the closing one. */
  skipString(i: number): number {
    i++;
    for (;;) {
      const b = this.at(i);
      if (b === BACKSLASH) i += 2;
      else if (b === QUOTE) return i + 1;
      else i++;
    }
  }

  /** `i` at a value's first byte; returns the index after its last. */
  skipValue(i: number): number {
    const first = this.at(i);
    if (first === QUOTE) return this.skipString(i);
    if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) {
      // A number, true, false or null: runs to the next delimiter.
      const body = this.body;
      while (i < body.length) {
        const b = body[i]!;
        if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || b <= 0x20) break;
        i++;
      }
      return i;
    }
    let depth = 0;
    for (;;) {
      const b = this.at(i);
      if (b === QUOTE) {
        i = this.skipString(i);
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
  }

  /** `i` at `{`: the object's end and the range of its last `data` member (JSON.parse keeps the last). */
  object(i: number): { end: number; data?: [number, number] } {
    let data: [number, number] | undefined;
    i = this.skipWhitespace(i + 1);
    if (this.at(i) === CLOSE_OBJECT) return { end: i + 1 };
    for (;;) {
      if (this.at(i) !== QUOTE) throw new NotJson();
      const keyEnd = this.skipString(i);
      const isData = this.isDataKey(i, keyEnd);
      i = this.skipWhitespace(keyEnd);
      if (this.at(i) !== COLON) throw new NotJson();
      const valueStart = this.skipWhitespace(i + 1);
      const valueEnd = this.skipValue(valueStart);
      if (isData) data = [valueStart, valueEnd];
      i = this.skipWhitespace(valueEnd);
      const next = this.at(i);
      if (next === CLOSE_OBJECT) return data === undefined ? { end: i + 1 } : { end: i + 1, data };
      if (next !== COMMA) throw new NotJson();
      i = this.skipWhitespace(i + 1);
    }
  }

  private isDataKey(start: number, end: number): boolean {
    const key = this.body.subarray(start, end);
    if (key.equals(DATA_KEY)) return true;
    // An escaped spelling ("d\u0061ta") is rare; decode only keys that have escapes.
    return key.includes(BACKSLASH) && JSON.parse(key.toString("utf8")) === "data";
  }

  slice(range: [number, number] | undefined): Buffer | undefined {
    return range === undefined ? undefined : Buffer.from(this.body.subarray(range[0], range[1]));
  }
}

/**
 * The raw `data` of each event in a body that JSON.parse accepted: one entry for an object, one per
 * element for an array; undefined where an event has no `data` member. Undefined as a whole when
 * the bytes are not JSON after all (the caller then falls back to re-encoding).
 */
export function rawDataMembers(body: Buffer): Array<Buffer | undefined> | undefined {
  const scanner = new Scanner(body);
  try {
    let i = scanner.skipWhitespace(0);
    const first = scanner.at(i);
    if (first === OPEN_OBJECT) return [scanner.slice(scanner.object(i).data)];
    if (first !== OPEN_ARRAY) return undefined;
    const members: Array<Buffer | undefined> = [];
    i = scanner.skipWhitespace(i + 1);
    if (scanner.at(i) === CLOSE_ARRAY) return members;
    for (;;) {
      if (scanner.at(i) === OPEN_OBJECT) {
        const { end, data } = scanner.object(i);
        members.push(scanner.slice(data));
        i = end;
      } else {
        members.push(undefined);
        i = scanner.skipValue(i);
      }
      i = scanner.skipWhitespace(i);
      const next = scanner.at(i);
      if (next === CLOSE_ARRAY) return members;
      if (next !== COMMA) return undefined;
      i = scanner.skipWhitespace(i + 1);
    }
  } catch (error) {
    if (error instanceof NotJson || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
