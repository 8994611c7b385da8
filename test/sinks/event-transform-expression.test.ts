import { readFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type CloudEvent, createEvent } from "../../src/events/event.js";
import { toJsonObject } from "../../src/events/json-format.js";
import {
  compileTransformation,
  toTransformedEvent,
} from "../../src/sinks/event-transform-expression.js";
import { TransformError } from "../../src/sinks/exchange-errors.js";

const DOCS = path.resolve(import.meta.dirname, "../fixtures/knative-docs/event-transform");

function doc(file: string): string {
  return readFileSync(path.join(DOCS, file), "utf8");
}

/** spec.jsonata.expression of a documented EventTransform manifest. */
function documentedExpression(file: string): string {
  const docs = doc(file)
    .split(/^---$/m)
    .map((text) => parse(text) as { kind: string; spec: { jsonata: { expression: string } } });
  return docs.find((d) => d.kind === "EventTransform")!.spec.jsonata.expression;
}

function jsonEvent(
  attributes: Record<string, string>,
  data: unknown,
  contentType = "application/json",
): CloudEvent {
  return createEvent(
    { specversion: "1.0", source: "/shop", datacontenttype: contentType, ...attributes },
    Buffer.from(JSON.stringify(data)),
  );
}

/** JSONata's sequences are arrays with extra properties: compare the JSON they stand for. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

function dataOf(event: CloudEvent): unknown {
  return JSON.parse(event.data!.toString("utf8"));
}

describe("Knative's documented JSONata examples give the documented results", () => {
  it("Restructuring Event Data: the page's input gives the page's output", async () => {
    const transformation = await compileTransformation(
      doc("restructuring.jsonata"),
      "spec.jsonata",
    );
    const result = await transformation.evaluate(JSON.parse(doc("restructuring.input.json")));
    expect(plain(result)).toEqual(JSON.parse(doc("restructuring.output.json")));
  });

  it("Array Processing: the page's input gives the page's output, time aside ($now())", async () => {
    const transformation = await compileTransformation(
      doc("array-processing.jsonata"),
      "spec.jsonata",
    );
    const result = plain(
      await transformation.evaluate(JSON.parse(doc("array-processing.input.json"))),
    ) as Record<string, unknown>;
    const { time, ...rest } = result;
    const { time: _documented, ...expected } = JSON.parse(doc("array-processing.output.json"));
    expect(rest).toEqual(expected);
    expect(Number.isNaN(Date.parse(String(time)))).toBe(false);
  });

  const order = {
    id: "o-1",
    customer: { id: "c-7" },
    region: "eu",
    items: [
      { productId: "p1", name: "Laptop", price: 900, quantity: 1 },
      { productId: "p2", name: "Mouse", price: 150, quantity: 2 },
    ],
    created: "2025-01-01T00:00:00Z",
    total: 1200,
    user: { id: "u-42", name: "Ada Lovelace", email: "Ada@Example.org" },
  };
  const input = jsonEvent(
    { id: "e-1", type: "order.created", time: "2025-01-02T03:04:05Z" },
    order,
  );
  const inputJson = toJsonObject(input);

  it.each([
    {
      example: "Basic Usage (simple-transform.yaml)",
      expression: () => documentedExpression("simple-transform.yaml"),
      attributes: { id: "e-1", type: "transformed.type", source: "transform.simple" },
      data: order,
    },
    {
      example: "Preserving Original Event Structure",
      expression: () => doc("preserving-structure.jsonata"),
      attributes: { id: "e-1", type: "order.created", newattribute: "static value" },
      data: order,
    },
    {
      example: "Extracting Fields as Attributes: data is the whole input event ($)",
      expression: () => doc("extracting-fields.jsonata"),
      attributes: { type: "user.event", userid: "u-42", region: "eu" },
      data: inputJson,
    },
    {
      example:
        "Conditional Transformations: order.created becomes new.order, total over 1000 is high",
      expression: () => doc("conditional.jsonata"),
      attributes: { type: "new.order", priority: "high" },
      data: inputJson,
    },
    {
      example: "Using Built-in Functions: lower-cased name and initials",
      expression: () => doc("built-in-functions.jsonata"),
      attributes: { username: "ada lovelace", initials: "AL" },
      data: inputJson,
    },
    {
      example: "Field Extraction (extract-user-id.yaml)",
      expression: () => documentedExpression("extract-user-id.yaml"),
      attributes: { type: "user.extracted", source: "transform.user-extractor", userid: "u-42" },
      data: inputJson,
    },
    {
      example: "Event Enrichment (event-enricher.yaml, with /* */ comments)",
      expression: () => documentedExpression("event-enricher.yaml"),
      attributes: { type: "order.created", environment: "production", region: "us-west-1" },
      data: inputJson,
    },
    {
      example: "Using Broker Reply Feature (broker-reply.yaml)",
      expression: () => documentedExpression("broker-reply.yaml"),
      attributes: { type: "transformed.event.type", source: "transform.event-transformer" },
      data: inputJson,
    },
  ])("$example", async ({ expression, attributes, data }) => {
    const transformation = await compileTransformation(expression(), "spec.jsonata");
    const output = await transformation.apply(input);
    expect(output.attributes).toMatchObject({ specversion: "1.0", ...attributes });
    expect(dataOf(output)).toEqual(data);
    expect(output.attributes["datacontenttype"]).toBe("application/json");
  });

  it("Order Processing (order-processor.yaml): totals, tax and priority from the items", async () => {
    const transformation = await compileTransformation(
      documentedExpression("order-processor.yaml"),
      "spec.jsonata",
    );
    const output = await transformation.apply(input);
    expect(output.attributes).toMatchObject({
      type: "order.processed",
      orderid: "o-1",
      customerid: "c-7",
      priority: "high",
    });
    const data = dataOf(output) as Record<string, unknown>;
    expect(data["total"]).toBe(1200);
    expect(data["items"]).toEqual([
      { productId: "p1", name: "Laptop", quantity: 1, unitPrice: 900, totalPrice: 900 },
      { productId: "p2", name: "Mouse", quantity: 2, unitPrice: 150, totalPrice: 300 },
    ]);
  });
});

describe("the result must be a CloudEvent", () => {
  const event = jsonEvent({ id: "e-9", type: "t" }, { n: 1 });

  it.each([
    ["a string is not an event", '"text"', "must produce a CloudEvent object, not string"],
    ["an array is not an event", "[1, 2]", "not an array"],
    ["a number is not an event", "42", "not number"],
    ["no value at all", "nothing.here", "produced nothing for this event"],
    [
      "id is required",
      '{"specversion": "1.0", "source": "s", "type": "t"}',
      "missing required attribute id",
    ],
    [
      "an attribute cannot be a fraction",
      '{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "total": 1.5}',
      "attribute total must be a string, boolean or integer",
    ],
    [
      "an attribute cannot be an object",
      '{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "user": {"id": 1}}',
      "attribute user must be",
    ],
    [
      "attribute names are lower-case letters and digits",
      '{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "userId": "u"}',
      "invalid attribute name",
    ],
    [
      "the specversion must be one CloudEvents has",
      '{"specversion": "2.0", "id": "1", "source": "s", "type": "t"}',
      "unsupported specversion",
    ],
  ])("%s", async (_what, expression, message) => {
    const transformation = await compileTransformation(expression, "spec.jsonata");
    const failure = transformation.apply(event);
    await expect(failure).rejects.toBeInstanceOf(TransformError);
    await expect(failure).rejects.toThrow(message);
  });

  it.each([
    ["$error() in the expression", '$error("no order in this event")', "no order in this event"],
    ["a function on a value it cannot take", "$string(1/0)", "D3001"],
    [
      "an expression that never ends is cut off",
      "($loop := function($n) { $loop($n + 1) }; $loop(0))",
      "timeout",
    ],
  ])(
    "an evaluation error is a TransformError naming the field: %s",
    async (_what, expression, message) => {
      const transformation = await compileTransformation(expression, "spec.reply.jsonata");
      const failure = transformation.apply(event);
      await expect(failure).rejects.toBeInstanceOf(TransformError);
      await expect(failure).rejects.toThrow(
        /^spec\.reply\.jsonata\.expression failed on this event/,
      );
      await expect(failure).rejects.toThrow(message);
    },
  );

  it("keeps binary data the expression passes on as data_base64, with its content type", async () => {
    const binary = createEvent(
      { specversion: "1.0", id: "b", source: "s", type: "t", datacontenttype: "image/png" },
      Buffer.from([0, 1, 2, 255]),
    );
    const transformation = await compileTransformation(
      '{"specversion": "1.0", "id": id, "source": source, "type": "t2", "datacontenttype": datacontenttype, "data_base64": data_base64}',
      "spec.jsonata",
    );
    const output = await transformation.apply(binary);
    expect(output.attributes["datacontenttype"]).toBe("image/png");
    expect([...output.data!]).toEqual([0, 1, 2, 255]);
  });

  it("carries the trace context over unless the expression sets its own", async () => {
    const traced = createEvent({
      specversion: "1.0",
      id: "tr",
      source: "s",
      type: "t",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    });
    const copyNothing = await compileTransformation(
      '{"specversion": "1.0", "id": id, "source": "x", "type": "y"}',
      "spec.jsonata",
    );
    expect((await copyNothing.apply(traced)).attributes["traceparent"]).toBe(
      traced.attributes["traceparent"],
    );
    const setOwn = await compileTransformation(
      '{"specversion": "1.0", "id": id, "source": "x", "type": "y", "traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}',
      "spec.jsonata",
    );
    expect((await setOwn.apply(traced)).attributes["traceparent"]).toBe(
      "00-11111111111111111111111111111111-2222222222222222-01",
    );
  });

  it("an expression that does not parse refuses every event, naming the field", async () => {
    const broken = await compileTransformation("# a comment\n{}", "spec.jsonata");
    const event = createEvent({ specversion: "1.0", id: "1", source: "s", type: "t" });
    await expect(broken.apply(event)).rejects.toThrow(/^spec\.jsonata\.expression does not parse/);
    await expect(broken.apply(event)).rejects.toBeInstanceOf(TransformError);
  });
});

describe("reading a result as an event (fuzzed)", () => {
  const attributeName = fc.stringMatching(/^[a-z0-9]{1,12}$/);
  const attributeValue = fc.oneof(fc.string(), fc.integer(), fc.boolean());

  it("`$` gives back the event it was given, for any event with JSON data", async () => {
    const identity = await compileTransformation("$", "spec.jsonata");
    const core = new Set(["specversion", "id", "source", "type", "datacontenttype", "time"]);
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(attributeName, fc.string({ minLength: 1 }), { maxKeys: 5 }),
        fc.string({ minLength: 1 }),
        // JSON null is "no data" in the CloudEvents JSON format.
        fc.jsonValue().filter((value) => value !== null),
        async (extensions, id, data) => {
          const attributes = Object.fromEntries(
            Object.entries(extensions).filter(([name]) => !core.has(name)),
          );
          const event = jsonEvent({ ...attributes, id, type: "t" }, data);
          const output = await identity.apply(event);
          expect(output.attributes).toEqual(event.attributes);
          expect(dataOf(output)).toEqual(plain(data));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("any JSON result is an event or a TransformError, never another failure", () => {
    const input = jsonEvent({ id: "i", type: "t" }, {});
    const eventish = fc.record(
      {
        specversion: fc.constantFrom("1.0", "0.3", "2", 1),
        id: fc.oneof(fc.string(), fc.integer()),
        source: fc.string(),
        type: fc.string(),
        data: fc.jsonValue(),
        data_base64: fc.string(),
        time: fc.string(),
      },
      { requiredKeys: [] },
    );
    const result = fc.oneof(
      fc.jsonValue(),
      fc
        .tuple(eventish, fc.dictionary(fc.string(), fc.oneof(attributeValue, fc.jsonValue())))
        .map(([core, extra]) => ({ ...extra, ...core })),
    );
    fc.assert(
      fc.property(result, (value) => {
        try {
          const event = toTransformedEvent(value, input, "spec.jsonata");
          expect(typeof event.attributes["id"]).toBe("string");
        } catch (error) {
          expect(error).toBeInstanceOf(TransformError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
