import { describe, expect, it } from "vitest";
import { replyWithTtlOf, stampBrokerIngress, TtlExhaustedError } from "../../src/broker/ttl.js";
import { type AttributeValue, createEvent, EventValidationError } from "../../src/events/event.js";

/** What broker ingress does to `knativebrokerttl` on each hop, and what a reply carries back. */

const ARRIVAL = "2026-11-29T12:00:00.042Z";

function event(extra: Record<string, AttributeValue> = {}) {
  return createEvent(
    { specversion: "1.0", id: "1", source: "/test", type: "dev.example", ...extra },
    Buffer.from("{}"),
  );
}

describe("stampBrokerIngress counts one hop", () => {
  it("an event without a TTL starts at 255 (the first hop is ingress itself)", () => {
    const stamped = stampBrokerIngress(event(), ARRIVAL);
    expect(stamped.attributes["knativebrokerttl"]).toBe(255);
    expect(stamped.attributes["knativearrivaltime"]).toBe(ARRIVAL);
  });

  it.each<[string, AttributeValue, number]>([
    ["a number is decremented", 10, 9],
    ["a string is read as its integer and decremented", "10", 9],
    ["the largest TTL loses one", 255, 254],
    ["1 is the last hop: it becomes 0", 1, 0],
    ["a string 1 becomes 0", "1", 0],
    ["a TTL above the default is kept, less one", 1000, 999],
  ])("%s", (_name, ttl, expected) => {
    const stamped = stampBrokerIngress(event({ knativebrokerttl: ttl }), ARRIVAL);
    expect(stamped.attributes["knativebrokerttl"]).toBe(expected);
  });

  it("a second ingress costs one hop from the 255 the first one set", () => {
    const twice = stampBrokerIngress(stampBrokerIngress(event(), ARRIVAL), ARRIVAL);
    expect(twice.attributes["knativebrokerttl"]).toBe(254);
  });

  it.each<[string, AttributeValue]>([
    ["the number 0", 0],
    ["the string 0", "0"],
  ])("%s means the hops are used up", (_name, ttl) => {
    expect(() => stampBrokerIngress(event({ knativebrokerttl: ttl }), ARRIVAL)).toThrow(
      TtlExhaustedError,
    );
  });

  it.each<[string, AttributeValue]>([
    ["a negative number", -1],
    ["a negative string", "-3"],
    ["a fraction", 1.5],
    ["a fractional string", "1.5"],
    ["a string with trailing garbage", "12abc"],
    ["a word", "many"],
    ["an empty string", ""],
    ["a boolean", true],
    ["not a number", Number.NaN],
    ["infinity", Number.POSITIVE_INFINITY],
  ])("%s is refused, naming knativebrokerttl", (_name, ttl) => {
    let thrown: unknown;
    try {
      stampBrokerIngress(event({ knativebrokerttl: ttl }), ARRIVAL);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(EventValidationError);
    expect((thrown as EventValidationError).field).toBe("knativebrokerttl");
    expect((thrown as Error).message).toContain("knativebrokerttl");
  });

  it("leaves the input event as it was and keeps its other attributes and data", () => {
    const input = event({ knativebrokerttl: 7, region: "eu" });
    const before = structuredClone({ ...input.attributes });
    const stamped = stampBrokerIngress(input, ARRIVAL);
    expect({ ...input.attributes }).toEqual(before);
    expect(input.attributes["knativearrivaltime"]).toBeUndefined();
    expect(stamped).not.toBe(input);
    expect(stamped.attributes).toEqual({
      ...before,
      knativebrokerttl: 6,
      knativearrivaltime: ARRIVAL,
    });
    expect(stamped.data).toBe(input.data);
    expect(Object.isFrozen(stamped.attributes)).toBe(true);
  });
});

describe("replyWithTtlOf", () => {
  it.each<[string, AttributeValue]>([
    ["a number", 42],
    ["a string", "42"],
    ["0", 0],
  ])("carries the original's TTL (%s) as it is", (_name, ttl) => {
    const original = event({ knativebrokerttl: ttl });
    const reply = replyWithTtlOf(event({ id: "reply" }), original);
    expect(reply.attributes["knativebrokerttl"]).toBe(ttl);
    expect(reply.attributes["id"]).toBe("reply");
  });

  it("replaces a TTL the reply brought with the original's", () => {
    const reply = replyWithTtlOf(event({ knativebrokerttl: 255 }), event({ knativebrokerttl: 3 }));
    expect(reply.attributes["knativebrokerttl"]).toBe(3);
  });

  it("removes a TTL the reply brought when the original had none", () => {
    const reply = replyWithTtlOf(event({ knativebrokerttl: 1 }), event());
    expect("knativebrokerttl" in reply.attributes).toBe(false);
  });

  it("a reply to an event with 1 hop left is refused at ingress: each hop costs exactly 1", () => {
    const delivered = stampBrokerIngress(event({ knativebrokerttl: 2 }), ARRIVAL);
    const reply = replyWithTtlOf(event({ id: "reply" }), delivered);
    const replyIn = stampBrokerIngress(reply, ARRIVAL);
    expect(replyIn.attributes["knativebrokerttl"]).toBe(0);
    const second = replyWithTtlOf(event({ id: "reply-2" }), replyIn);
    expect(() => stampBrokerIngress(second, ARRIVAL)).toThrow(TtlExhaustedError);
  });

  it("leaves the reply and the original as they were", () => {
    const original = event({ knativebrokerttl: 5 });
    const answer = event({ id: "reply", knativebrokerttl: 9 });
    const result = replyWithTtlOf(answer, original);
    expect(answer.attributes["knativebrokerttl"]).toBe(9);
    expect(original.attributes["knativebrokerttl"]).toBe(5);
    expect(result).not.toBe(answer);
    expect(result.data).toBe(answer.data);
  });
});
