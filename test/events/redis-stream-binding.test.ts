import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createEvent, EventValidationError } from "../../src/events/event.js";
import {
  entryToEvent,
  eventToFields,
  REDIS_STREAM_EVENT_TYPE,
  redactAddress,
  redisStreamSource,
} from "../../src/events/redis-stream-binding.js";

const withData = (data: string | undefined) =>
  createEvent(
    { specversion: "1.0", id: "1", source: "/s", type: "t", datacontenttype: "application/json" },
    data === undefined ? undefined : Buffer.from(data, "utf8"),
  );

describe("the Redis stream binding (eventing-redis's format)", () => {
  it("an entry becomes dev.knative.sources.redisstream with its field-value list as JSON data", () => {
    const event = entryToEvent("redis://h:6379/s", "1597775814718-0", ["fruit", "banana"]);
    expect(event.attributes).toEqual({
      specversion: "1.0",
      id: "1597775814718-0",
      source: "redis://h:6379/s",
      type: REDIS_STREAM_EVENT_TYPE,
      datacontenttype: "application/json",
      time: "2020-08-18T18:36:54.718Z",
    });
    expect(JSON.parse(event.data!.toString())).toEqual(["fruit", "banana"]);
  });

  it.each([
    ["a plain address", "redis://127.0.0.1:6379", "redis://127.0.0.1:6379/orders"],
    [
      "user and password",
      "rediss://admin:s3cret@db.example:6380",
      "rediss://db.example:6380/orders",
    ],
    ["a password alone", "redis://:s3cret@db.example:6379/2", "redis://db.example:6379/2/orders"],
  ])("the source attribute keeps credentials out: %s", (_name, address, source) => {
    expect(redisStreamSource(address, "orders")).toBe(source);
  });

  it.each([
    ["no data", undefined, "is missing"],
    ["data that is not JSON", "fruit=banana", "is not JSON"],
    ["an object", '{"fruit":"banana"}', "is not an array"],
    ["an empty array", "[]", "holds 0 items"],
    ["an odd count", '["a","b","c"]', "holds 3 items"],
    ["null inside", '["a",null]', "item 1 is null"],
  ])("a sink refuses %s with EventValidationError on data", (_name, data, why) => {
    expect(() => eventToFields(withData(data))).toThrow(EventValidationError);
    expect(() => eventToFields(withData(data))).toThrow(why);
  });

  it("property: any field-value list read by a source is what a sink writes back", () => {
    const pairs = fc
      .array(fc.tuple(fc.string(), fc.string()), { minLength: 1, maxLength: 8 })
      .map((list) => list.flat());
    fc.assert(
      fc.property(pairs, (fields) => {
        expect(eventToFields(entryToEvent("redis://h/s", "1-0", fields))).toEqual(fields);
      }),
    );
  });

  it("property: any bytes as data either give an even list of strings or EventValidationError", () => {
    const data = fc.oneof(
      fc.json(),
      fc.string(),
      fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
    );
    fc.assert(
      fc.property(data, (text) => {
        try {
          const fields = eventToFields(withData(text));
          expect(fields.length % 2).toBe(0);
          expect(fields.length).toBeGreaterThan(0);
          for (const field of fields) expect(typeof field).toBe("string");
        } catch (error) {
          expect(error).toBeInstanceOf(EventValidationError);
        }
      }),
    );
  });

  it("property: a redacted address never holds the password it was given", () => {
    // Upper case only, so it can never appear inside the lower-case host by chance.
    const secret = fc.stringMatching(/^[A-Z]{6,12}$/);
    const host = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    fc.assert(
      fc.property(
        secret,
        host,
        fc.oneof(fc.constant("redis"), fc.constant("rediss")),
        (password, name, scheme) => {
          const redacted = redactAddress(`${scheme}://user:${password}@${name}:6379`);
          expect(redacted).not.toContain(password);
          expect(redacted).toBe(`${scheme}://${name}:6379`);
        },
      ),
    );
  });
});
