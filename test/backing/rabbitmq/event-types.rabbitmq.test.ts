import { randomUUID } from "node:crypto";
import { connect } from "amqplib";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import type { ObservedEventType } from "../../../src/backing/event-type-store.js";
import { EVENT_TYPES_QUEUE, parseBatch } from "../../../src/backing/rabbitmq/event-type-store.js";
import { createBacking } from "../../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { inferSchema, mergeSchemas } from "../../../src/operations/schema-infer.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("rabbitmq");
const merge = (x: unknown, y: unknown) => mergeSchemas(x as never, y as never);

function observed(namespace: string, n: number, data: unknown): ObservedEventType {
  return {
    namespace,
    broker: "orders",
    type: "com.example.order",
    source: "/shop",
    count: n,
    firstSeen: 1_000 + n,
    lastSeen: 2_000 + n,
    schema: inferSchema(data),
  };
}

describe("the RabbitMQ EventType batch parser", () => {
  it("accepts what add() writes and refuses anything else with an error, never a crash", () => {
    const batch = [observed("ns", 2, { a: 1 }), { ...observed("ns", 1, {}), schema: undefined }];
    expect(parseBatch(Buffer.from(JSON.stringify(batch)))).toEqual(
      JSON.parse(JSON.stringify(batch)),
    );
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (text) => {
        try {
          const parsed = parseBatch(Buffer.from(text));
          for (const o of parsed) {
            expect(typeof o.namespace).toBe("string");
            expect(Number.isFinite(o.count)).toBe(true);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
        }
      }),
    );
  });
});

describe.skipIf(!url)("RabbitMQ EventType store (stream queue log)", () => {
  const make = () =>
    createBacking({ kind: "rabbitmq", settings: { url: url! } }, { logger: silentLogger() });

  it("two processes' flushes add up, a process started later folds the whole log, and a foreign message is skipped", async () => {
    const namespace = `et-${randomUUID().slice(0, 8)}`;
    const [a, b]: Backing[] = await Promise.all([make(), make()]);
    try {
      await a.eventTypes!.add([observed(namespace, 2, { id: "x", total: 1 })], merge);
      // Something else on the queue must not stop the readers.
      const model = await connect(url!);
      const channel = await model.createConfirmChannel();
      channel.sendToQueue(EVENT_TYPES_QUEUE, Buffer.from("not a batch"));
      await channel.waitForConfirms();
      await model.close();
      await b.eventTypes!.add([observed(namespace, 3, { id: "y", gift: true })], merge);
      for (const process of [a, b]) {
        const [entry, ...rest] = await process.eventTypes!.list(namespace);
        expect(rest).toEqual([]);
        expect(entry).toMatchObject({ count: 5, firstSeen: 1_002, lastSeen: 2_003 });
        const schema = entry!.schema as { required: string[]; properties: object };
        expect(schema.required).toEqual(["id"]);
        expect(Object.keys(schema.properties).sort()).toEqual(["gift", "id", "total"]);
      }
      // Written after b's reader started: list() waits until its reader got this far.
      await a.eventTypes!.add([observed(namespace, 1, { id: "z" })], merge);
      expect((await b.eventTypes!.list(namespace))[0]!.count).toBe(6);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    const later = await make();
    try {
      await later.eventTypes!.add([], merge);
      const entries = await later.eventTypes!.list(namespace);
      expect(entries.map((e) => e.count)).toEqual([6]);
      expect(await later.eventTypes!.list(`${namespace}-other`)).toEqual([]);
    } finally {
      await later.close();
    }
  });

  it("a flush to an engine that is not there rejects naming every observation, so the registry retries them", async () => {
    const away = await createBacking(
      {
        kind: "rabbitmq",
        settings: { url: "amqp://guest:guest@127.0.0.1:1", publishTimeoutMs: "300" },
      },
      { logger: silentLogger() },
    );
    try {
      const batch = [observed("ns", 1, {})];
      await expect(away.eventTypes!.add(batch, merge)).rejects.toMatchObject({
        name: "EventTypesNotWrittenError",
        unwritten: batch,
      });
    } finally {
      await away.close();
    }
  });
});
