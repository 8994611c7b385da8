import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rawDataMembers } from "../../src/events/json-raw.js";

const ws = fc.stringMatching(/^[ \t\n\r]{0,3}$/);
const value = fc.jsonValue({ maxDepth: 3, stringUnit: "grapheme" });
/** JSON text of a value in one of several layouts. */
const text = fc
  .tuple(value, fc.constantFrom(0, 1, 2, "\t", " \r\n"))
  .map(([v, indent]) => JSON.stringify(v, null, indent));
/** Spellings of the key `data`, escaped ones included. */
const dataKey = fc.constantFrom('"data"', '"d\\u0061ta"', '"\\u0064ata"');
/** Other member names, some tricky: data_base64, DATA, a nested "data" lives in their values. */
const otherKey = fc
  .oneof(
    fc.constantFrom("specversion", "data_base64", "DATA", "dat", "datas", "id"),
    fc.string({ unit: "grapheme", maxLength: 6 }),
  )
  .filter((key) => key !== "data");

/** A batch element that is no event: its data, if it had any, is not looked for. */
const notAnObject = value
  .filter((v) => typeof v !== "object" || v === null || Array.isArray(v))
  .map((v) => JSON.stringify(v));

type Member = { key: string; text: string; isData: boolean };

const member: fc.Arbitrary<Member> = fc.oneof(
  fc.tuple(dataKey, text).map(([key, t]) => ({ key, text: t, isData: true })),
  fc
    .tuple(otherKey, text)
    .map(([key, t]) => ({ key: JSON.stringify(key), text: t, isData: false })),
  // A value holding a nested "data" member, which must not be taken for the event's.
  fc.tuple(otherKey, text).map(([key, t]) => ({
    key: JSON.stringify(key),
    text: `{"data":${t}}`,
    isData: false,
  })),
);

const event = fc.tuple(
  fc.array(member, { maxLength: 5 }),
  fc.array(ws, { minLength: 24, maxLength: 24 }),
);

function render([members, spaces]: [Member[], string[]]): { body: string; data?: string } {
  let k = 0;
  const s = () => spaces[k++ % spaces.length]!;
  const parts = members.map((m) => `${s()}${m.key}${s()}:${s()}${m.text}${s()}`);
  const last = members.filter((m) => m.isData).at(-1);
  return {
    body: `${s()}{${parts.join(",")}${members.length === 0 ? s() : ""}}${s()}`,
    data: last?.text,
  };
}

describe("rawDataMembers: the data member's bytes exactly as the body holds them", () => {
  it("finds the last data member of an object, whatever the layout and the other members", () => {
    fc.assert(
      fc.property(event, (generated) => {
        const { body, data } = render(generated);
        JSON.parse(body);
        const [found] = rawDataMembers(Buffer.from(body, "utf8"))!;
        expect(found?.toString("utf8")).toBe(data);
      }),
    );
  });

  it("finds the data member of each event of a batch, in order", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            event.map(render),
            notAnObject.map((t) => ({ body: t, data: undefined })),
          ),
          { maxLength: 4 },
        ),
        ws,
        (events, space) => {
          const body = `[${space}${events.map((e) => e.body).join(`${space},`)}]`;
          JSON.parse(body);
          const found = rawDataMembers(Buffer.from(body, "utf8"))!;
          expect(found.map((b) => b?.toString("utf8"))).toEqual(
            events.map((e) => (e.body.trim().startsWith("{") ? e.data : undefined)),
          );
        },
      ),
    );
  });

  it("agrees with JSON.parse on any JSON object that has a data member", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), value, (others, data) => {
        const body = Buffer.from(JSON.stringify({ ...others, data }, null, 1), "utf8");
        const [found] = rawDataMembers(body)!;
        expect(JSON.parse(found!.toString("utf8"))).toEqual(JSON.parse(body.toString("utf8")).data);
      }),
    );
  });

  it("never throws on any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const result = rawDataMembers(Buffer.from(bytes));
        expect(result === undefined || Array.isArray(result)).toBe(true);
      }),
    );
  });

  it.each([
    ["keeps multi-byte characters whole", '{"data":"é😀"}', '"é😀"'],
    ["keeps a number's written form", '{"data":1.50e+3}', "1.50e+3"],
    ["takes the last of two data members", '{"data":1,"data":[2 ]}', "[2 ]"],
    ["reads an escaped key", '{"d\\u0061ta" : {"a" :1}}', '{"a" :1}'],
    ["skips a string holding braces and quotes", '{"x":"}\\"{[","data":true}', "true"],
  ])("%s", (_name, body, expected) => {
    expect(rawDataMembers(Buffer.from(body, "utf8"))![0]!.toString("utf8")).toBe(expected);
  });

  it("says nothing for a body without data, or with a top level that is not an event", () => {
    expect(rawDataMembers(Buffer.from('{"id":"1"}'))).toEqual([undefined]);
    expect(rawDataMembers(Buffer.from('"text"'))).toBeUndefined();
  });
});
