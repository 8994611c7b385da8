import { writeFileSync } from "node:fs";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWithManifests } from "../support/sink.js";

interface EventTypeView {
  apiVersion: string;
  metadata: { name: string; annotations: Record<string, string> };
  spec: { type: string; source: string; schemaData: string; reference?: { name: string } };
}

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const ORDER_SCHEMA = JSON.stringify({
  type: "object",
  required: ["id", "total", "lines"],
  properties: {
    id: { type: "string" },
    total: { type: "number" },
    lines: {
      type: "array",
      items: { type: "object", required: ["sku"], properties: { sku: { type: "string" } } },
    },
  },
});

const MANIFESTS = `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
  eventtype-auto-create: enabled
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: checked
  namespace: default
  annotations:
    eventail.io/ingress.validate: schema
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: open
  namespace: default
---
apiVersion: eventing.knative.dev/v1beta2
kind: EventType
metadata:
  name: order-created
  namespace: default
spec:
  reference:
    apiVersion: eventing.knative.dev/v1
    kind: Broker
    name: checked
  type: com.example.order.created
  source: /shop
  schemaData: '${ORDER_SCHEMA}'
---
apiVersion: eventing.knative.dev/v1beta3
kind: EventType
metadata:
  name: payment
  namespace: default
  annotations:
    eventail.io/schema-data: '{"type":"object","required":["amount"],"properties":{"amount":{"type":"integer"}}}'
spec:
  attributes:
    - {name: type, value: com.example.payment, required: true}
    - {name: source, required: true}
    - {name: specversion, required: true}
    - {name: id, required: true}
`;

async function send(
  eventail: Running,
  broker: string,
  type: string,
  data: unknown,
  source = "/shop",
  id = "e-1",
) {
  const response = await request(`${eventail.url}/default/${broker}`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": source,
      "ce-type": type,
      "content-type": "application/json",
    },
    body: JSON.stringify(data),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: text === "" ? undefined : JSON.parse(text) };
}

describe("EventType registry over HTTP (CONTRACT §11)", () => {
  let eventail: Running;

  beforeAll(async () => {
    eventail = await startWithManifests(MANIFESTS);
  });
  afterAll(async () => {
    await eventail?.close();
  });

  it("refuses data that does not match the declared schema, naming the JSON pointer", async () => {
    const good = { id: "o1", total: 12.5, lines: [{ sku: "a" }] };
    expect((await send(eventail, "checked", "com.example.order.created", good)).status).toBe(202);

    const wrongType = await send(eventail, "checked", "com.example.order.created", {
      ...good,
      lines: [{ sku: "a" }, { sku: 7 }],
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.code).toBe("SCHEMA_MISMATCH");
    expect(wrongType.body.error).toContain('"/lines/1/sku"');
    expect(wrongType.body.error).not.toContain("\n");

    const missing = await send(eventail, "checked", "com.example.order.created", {
      id: "o2",
      lines: [],
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toContain('"/total"');

    // v1beta3: the schema is the annotation, and it names no broker, so every checking broker uses it.
    const payment = await send(eventail, "checked", "com.example.payment", { amount: 1.5 });
    expect(payment.status).toBe(400);
    expect(payment.body.error).toContain('"/amount"');
    expect((await send(eventail, "checked", "com.example.payment", { amount: 2 })).status).toBe(
      202,
    );
  });

  it("checks only where asked: another source, a broker without the annotation", async () => {
    const bad = { id: 1 };
    expect(
      (await send(eventail, "checked", "com.example.order.created", bad, "/elsewhere")).status,
    ).toBe(202);
    expect((await send(eventail, "open", "com.example.order.created", bad)).status).toBe(202);
    expect((await send(eventail, "checked", "com.example.unknown", bad)).status).toBe(202);
  });

  it("compiles each schema once, and again only when its text changes", async () => {
    const before = eventail.eventTypes.compilations;
    for (let i = 0; i < 5; i++) {
      await send(eventail, "checked", "com.example.order.created", {
        id: "x",
        total: 1,
        lines: [],
      });
    }
    expect(eventail.eventTypes.compilations).toBe(before);
    const changed = MANIFESTS.replace('"total":{"type":"number"}', '"total":{"type":"string"}');
    expect(changed).not.toBe(MANIFESTS);
    writeFileSync(eventail.file, changed);
    expect(await eventail.reload()).toEqual([]);
    expect(eventail.eventTypes.compilations).toBe(before + 1);
    const now = await send(eventail, "checked", "com.example.order.created", {
      id: "x",
      total: 1,
      lines: [],
    });
    expect(now.status).toBe(400);
    expect(now.body.error).toContain('"/total"');
    writeFileSync(eventail.file, MANIFESTS);
    expect(await eventail.reload()).toEqual([]);
  });

  it("creates an EventType per (broker, type, source) on first sight, with counts and a schema", async () => {
    for (let i = 0; i < 3; i++) {
      await send(
        eventail,
        "open",
        "com.example.shipped",
        { at: "2026-12-07T03:50:57Z", n: i },
        "/wh",
        `s${i}`,
      );
    }
    await send(eventail, "open", "com.example.shipped", { at: "2026-12-07T03:50:58Z" }, "/wh2");
    const response = await request(`${eventail.url}/api/v1/eventtypes?namespace=default`);
    const { items } = (await response.body.json()) as { items: EventTypeView[] };
    const shipped = items.filter((i) => i.spec.type === "com.example.shipped");
    expect(shipped.map((i) => i.spec.source).sort()).toEqual(["/wh", "/wh2"]);
    const wh = shipped.find((i) => i.spec.source === "/wh")!;
    expect(wh.apiVersion).toBe("eventing.knative.dev/v1beta2");
    expect(wh.spec.reference).toMatchObject({ kind: "Broker", name: "open" });
    expect(wh.metadata.annotations["eventail.io/count"]).toBe("3");
    expect(Date.parse(wh.metadata.annotations["eventail.io/first-seen"])).toBeLessThanOrEqual(
      Date.parse(wh.metadata.annotations["eventail.io/last-seen"]),
    );
    const schema = JSON.parse(wh.spec.schemaData);
    expect(schema.required).toEqual(["at", "n"]);
    expect(schema.properties.at.format).toBe("date-time");
    expect(JSON.stringify(schema)).not.toContain("x-eventail");
    // Declared ones are listed once, with their own schema, and counted when they match exactly.
    const declared = items.find((i) => i.metadata.name === "order-created")!;
    expect(JSON.parse(declared.spec.schemaData)).toEqual(JSON.parse(ORDER_SCHEMA));
    expect(Number(declared.metadata.annotations["eventail.io/count"])).toBeGreaterThan(0);
    expect(
      items.filter(
        (i) =>
          i.spec.type === "com.example.order.created" &&
          i.spec.source === "/shop" &&
          i.spec.reference?.name === "checked",
      ),
    ).toHaveLength(1);
  });
});
