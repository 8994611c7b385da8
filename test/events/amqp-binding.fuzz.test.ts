import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { amqpMessageToEvent, RABBITMQ_EVENT_TYPE } from "../../src/events/amqp-binding.js";
import { EventValidationError, validateEvent } from "../../src/events/event.js";

const SOURCE = { namespace: "ns", name: "src", queue: "q" };

/** What an AMQP table value can be as amqplib decodes it, and then some. */
const headerValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.uint8Array({ maxLength: 16 }).map((bytes) => Buffer.from(bytes)),
  fc.date({ noInvalidDate: false }),
  fc.constant(null),
  fc.constant(undefined),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }),
);
const headerName = fc.oneof(
  fc.string(),
  fc
    .constantFrom("specversion", "id", "source", "type", "time", "datacontenttype", "x", "Ünï", "")
    .chain((name) => fc.constantFrom(`cloudEvents:${name}`, `CLOUDEVENTS:${name}`, name)),
);
const message = fc.record({
  content: fc.uint8Array({ maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
  properties: fc.record(
    {
      headers: fc.dictionary(headerName, headerValue, { maxKeys: 8 }),
      contentType: fc.oneof(
        fc.string(),
        fc.constantFrom("application/cloudevents+json", "application/json", "text/plain"),
      ),
      messageId: fc.oneof(fc.string(), fc.integer()),
      timestamp: fc.oneof(fc.integer(), fc.double(), fc.string()),
    },
    { requiredKeys: [] },
  ),
});

describe("fuzz: AMQP message → CloudEvent", () => {
  it("yields a valid CloudEvent or refuses with EventValidationError, never anything else", () => {
    fc.assert(
      fc.property(message, (msg) => {
        try {
          const event = amqpMessageToEvent(msg, SOURCE);
          validateEvent(event);
          if (event.data !== undefined) expect(event.data.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(EventValidationError);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("a message without cloudEvents:* headers and not structured is always wrapped, its body kept", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
        fc.dictionary(
          fc.string().filter((k) => !k.toLowerCase().startsWith("cloudevents:")),
          fc.string(),
        ),
        (content, headers) => {
          const event = amqpMessageToEvent({ content, properties: { headers } }, SOURCE);
          expect(event.attributes["type"]).toBe(RABBITMQ_EVENT_TYPE);
          expect(event.attributes["source"]).toBe("/apis/v1/namespaces/ns/rabbitmqsources/src#q");
          expect(Buffer.compare(event.data!, content)).toBe(0);
        },
      ),
    );
  });

  it("binary mode: valid attributes in cloudEvents:* headers come back as they were sent", () => {
    const attributeName = fc.stringMatching(/^[a-z0-9]{1,12}$/);
    fc.assert(
      fc.property(
        fc.dictionary(attributeName, fc.string({ minLength: 1 }), { maxKeys: 5 }),
        fc.string({ minLength: 1 }),
        (extensions, id) => {
          const attributes = {
            ...extensions,
            specversion: "1.0",
            id,
            source: "/s",
            type: "t",
          };
          delete (attributes as Record<string, unknown>)["time"];
          const headers = Object.fromEntries(
            Object.entries(attributes).map(([k, v]) => [`cloudEvents:${k}`, v]),
          );
          const event = amqpMessageToEvent(
            { content: Buffer.from("x"), properties: { headers } },
            SOURCE,
          );
          expect(event.attributes).toEqual(attributes);
        },
      ),
    );
  });
});
