import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SseParser } from "../../src/cli/sse-parser.js";
import { createEvent } from "../../src/events/event.js";
import { type TailEntry, TailReader } from "../../src/operations/tail-bus.js";
import { formatSse } from "../../src/server/api-tail.js";

const origin = { namespace: "default", kind: "broker", name: "default" } as const;

function drain(reader: TailReader): TailEntry[] {
  const taken: TailEntry[] = [];
  for (let entry = reader.take(); entry !== undefined; entry = reader.take()) taken.push(entry);
  return taken;
}

const event = (id: string) => createEvent({ specversion: "1.0", id, source: "/s", type: "t" });

describe("tail reader queue", () => {
  it.each([
    { name: "under capacity every message waits", capacity: 4, pushed: 3 },
    { name: "at capacity nothing is lost", capacity: 4, pushed: 4 },
    { name: "past capacity the newest are counted by one marker", capacity: 4, pushed: 10 },
    { name: "a capacity of one still says how many it lost", capacity: 1, pushed: 1000 },
  ])("$name", ({ capacity, pushed }) => {
    const reader = new TailReader({}, capacity, () => {});
    for (let i = 0; i < pushed; i++) reader.push({ type: "cloudevent", event: event(`e${i}`) });
    expect(reader.highWater).toBe(Math.min(capacity, pushed));
    const taken = drain(reader);
    const kept = Math.min(capacity, pushed);
    expect(
      taken.slice(0, kept).map((e) => e.type === "cloudevent" && e.event.attributes["id"]),
    ).toEqual(Array.from({ length: kept }, (_, i) => `e${i}`));
    const lost = pushed - kept;
    expect(taken.slice(kept)).toEqual(lost > 0 ? [{ type: "dropped", count: lost }] : []);
    expect(reader.droppedTotal).toBe(lost);
  });

  it("a gap is reported where it happened, before the messages that came after it", () => {
    const reader = new TailReader({}, 2, () => {});
    for (const id of ["a", "b", "c", "d"]) reader.push({ type: "cloudevent", event: event(id) });
    expect(reader.take()).toMatchObject({ event: { attributes: { id: "a" } } });
    reader.push({ type: "cloudevent", event: event("e") });
    expect(
      drain(reader).map((e) => (e.type === "cloudevent" ? e.event.attributes["id"] : e)),
    ).toEqual(["b", { type: "dropped", count: 2 }, "e"]);
  });

  it.each([
    { name: "namespace selects by namespace", selection: { namespace: "other" }, wanted: false },
    { name: "broker selects by broker name", selection: { broker: "default" }, wanted: true },
    {
      name: "broker excludes a channel of the same name",
      selection: { broker: "x" },
      wanted: false,
    },
    {
      name: "a filter sees the event's attributes",
      selection: { matches: (a: Record<string, unknown>) => a["id"] === "e1" },
      wanted: true,
    },
  ])("$name", ({ selection, wanted }) => {
    const reader = new TailReader(selection, 8, () => {});
    expect(reader.wants(origin, event("e1"))).toBe(wanted);
  });
});

/** Data as a tail sends it: any text, line ends of every kind included. */
const data = fc.string({
  unit: fc.constantFrom("a", "é", " ", ":", "\n", "\r", "\r\n", "{", "😀"),
});
const messages = fc.array(
  fc.record({ event: fc.constantFrom("cloudevent", "outcome", "dropped"), data }),
  { maxLength: 20 },
);

/** Splits text at the given (sorted, deduplicated) positions. */
function chunks(text: string, cuts: number[]): string[] {
  const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let start = 0;
  for (const cut of at) {
    out.push(text.slice(start, cut));
    start = cut;
  }
  out.push(text.slice(start));
  return out;
}

describe("Server-Sent Events framing", () => {
  it("what formatSse writes, cut anywhere and with comments between, parses back (line ends as LF)", () => {
    fc.assert(
      fc.property(messages, fc.array(fc.nat(), { maxLength: 30 }), (sent, cuts) => {
        const text = sent.map((m) => `: keep-alive\n\n${formatSse(m.event, m.data)}`).join("");
        const parser = new SseParser();
        const received = chunks(text, cuts).flatMap((chunk) => parser.push(chunk));
        expect(received).toEqual(
          sent.map((m) => ({ event: m.event, data: m.data.replace(/\r\n|\r/g, "\n") })),
        );
      }),
    );
  });

  it("any text fed in any cuts never throws and yields only messages with data", () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const parser = new SseParser();
        for (const chunk of chunks(text, cuts)) {
          for (const message of parser.push(chunk)) expect(typeof message.data).toBe("string");
        }
      }),
    );
  });
});
