/**
 * Percent-encoding of `ce-` header values, as the CloudEvents HTTP binding (1.0, section
 * 3.1.3.2) requires: space, double quote, percent and every byte outside printable ASCII are
 * written as `%XX` of the value's UTF-8 bytes; everything else is left alone.
 */

const NEEDS_ENCODING = /[^\x21-\x7e]|["%]/;

const HEX = "0123456789ABCDEF";

function isPlainByte(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e && byte !== 0x22 && byte !== 0x25;
}

export function percentEncodeHeaderValue(value: string): string {
  // Most values (ids, types, sources) are plain ASCII: skip the byte walk for them.
  if (!NEEDS_ENCODING.test(value)) return value;
  const bytes = Buffer.from(value, "utf8");
  let out = "";
  for (const byte of bytes) {
    if (isPlainByte(byte)) out += String.fromCharCode(byte);
    else out += "%" + HEX[byte >> 4] + HEX[byte & 0x0f];
  }
  return out;
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Decodes `%XX` sequences and reads the bytes as UTF-8. A `%` not followed by two hex digits is
 * kept as it is: senders that never encoded a literal percent still get their value through.
 */
export function percentDecodeHeaderValue(value: string): string {
  if (!value.includes("%")) return value;
  const input = Buffer.from(value, "utf8");
  const out = Buffer.allocUnsafe(input.length);
  let length = 0;
  for (let i = 0; i < input.length; i++) {
    const byte = input[i]!;
    if (byte === 0x25 && i + 2 < input.length) {
      const high = hexValue(input[i + 1]!);
      const low = hexValue(input[i + 2]!);
      if (high >= 0 && low >= 0) {
        out[length++] = (high << 4) | low;
        i += 2;
        continue;
      }
    }
    out[length++] = byte;
  }
  return out.toString("utf8", 0, length);
}
