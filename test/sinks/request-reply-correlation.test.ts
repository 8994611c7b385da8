import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  mintCorrelationId,
  parseCorrelationId,
  verifyCorrelation,
} from "../../src/sinks/request-reply-correlation.js";

const KEY = Buffer.from("correlation-test-key-0123456789");
const OTHER_KEY = Buffer.from("correlation-test-key-9876543210");
const SCOPE = "default/rr";
const INSTANCE = "0123456789abcdef";

/** True when `value` is taken as a reply to a request minted under SCOPE, INSTANCE and KEY. */
function accepted(value: string, keys = [KEY]): boolean {
  const parsed = parseCorrelationId(value);
  return (
    parsed !== undefined &&
    parsed.correlation.instance === INSTANCE &&
    verifyCorrelation(SCOPE, parsed.correlation, parsed.mac, keys)
  );
}

describe("correlation ids", () => {
  it("any event id, colons and all, reads back and verifies", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: "grapheme" }), (eventId) => {
        const { id, nonce } = mintCorrelationId(SCOPE, eventId, INSTANCE, KEY);
        const parsed = parseCorrelationId(id);
        expect(parsed?.correlation).toEqual({ eventId, instance: INSTANCE, nonce });
        expect(accepted(id)).toBe(true);
      }),
    );
  });

  it("two requests with the same event id get different ids (each waits for its own reply)", () => {
    const a = mintCorrelationId(SCOPE, "same", INSTANCE, KEY);
    const b = mintCorrelationId(SCOPE, "same", INSTANCE, KEY);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.id).not.toBe(b.id);
  });

  it.each([
    ["a key that is not in the list", [OTHER_KEY], false],
    ["the signing key among others (a rotation)", [OTHER_KEY, KEY], true],
    ["no key at all", [], false],
  ])("verifying with %s: %s", (_what, keys, expected) => {
    const { id } = mintCorrelationId(SCOPE, "e", INSTANCE, KEY);
    expect(accepted(id, keys)).toBe(expected);
  });

  it("an id minted for another RequestReply does not verify here", () => {
    const { id } = mintCorrelationId("default/other", "e", INSTANCE, KEY);
    expect(accepted(id)).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["no separators", "abc"],
    ["too few parts", "id:0123456789abcdef:AAAAAAAAAAAAAAAA"],
    ["an empty event id", ":0123456789abcdef:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA"],
    ["an instance in capitals", "e:ABC:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA"],
    ["a short nonce", "e:abc:AAAA:AAAAAAAAAAAAAAAAAAAAAA"],
    ["a MAC with padding", "e:abc:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAA=="],
    ["a MAC spelled with spare bits set", "e:abc:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAB"],
  ])("%s is not a correlation id", (_what, value) => {
    expect(parseCorrelationId(value)).toBeUndefined();
  });

  it("reading never throws, whatever arrives in the reply attribute", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc
            .array(fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{0,24}$/)), {
              maxLength: 6,
            })
            .map((parts) => parts.join(":")),
        ),
        (value) => {
          const parsed = parseCorrelationId(value);
          if (parsed !== undefined) {
            expect(parsed.mac).toHaveLength(16);
            expect(verifyCorrelation(SCOPE, parsed.correlation, parsed.mac, [KEY])).toBe(false);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it("changing any one character of an id makes it unacceptable", () => {
    const alphabet = "abcAZ09_-:x";
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.nat(),
        fc.constantFrom(...alphabet),
        (eventId, at, replacement) => {
          const { id } = mintCorrelationId(SCOPE, eventId, INSTANCE, KEY);
          const index = at % id.length;
          fc.pre(id[index] !== replacement);
          const changed = id.slice(0, index) + replacement + id.slice(index + 1);
          expect(accepted(changed)).toBe(false);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
