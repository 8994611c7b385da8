import { randomUUID } from "node:crypto";
import { connect } from "amqplib";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import type { ObservedEventType } from "../../../src/backing/event-type-store.js";
import { RabbitConnector } from "../../../src/backing/rabbitmq/connection.js";
import {
  EVENT_TYPES_QUEUE,
  parseBatch,
  parseSnapshot,
  RabbitEventTypeStore,
  type RabbitEventTypeStoreOptions,
} from "../../../src/backing/rabbitmq/event-type-store.js";
import { createBacking } from "../../../src/backing/rabbitmq/index.js";
import { parseRabbitSettings } from "../../../src/backing/rabbitmq/settings.js";
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

  it("reads a snapshot back as written and refuses anything else with an error", () => {
    const snapshot = { covers: 41, entries: [observed("ns", 2, { a: 1 })] };
    expect(parseSnapshot(Buffer.from(JSON.stringify(snapshot)))).toEqual(
      JSON.parse(JSON.stringify(snapshot)),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.json(),
          fc.string(),
          fc
            .record({ covers: fc.anything(), entries: fc.anything() })
            .map((o) => JSON.stringify(o)),
        ),
        (text) => {
          try {
            const parsed = parseSnapshot(Buffer.from(text));
            expect(Number.isSafeInteger(parsed.covers)).toBe(true);
            for (const o of parsed.entries) expect(typeof o.type).toBe("string");
          } catch (error) {
            expect(error).toBeInstanceOf(Error);
          }
        },
      ),
    );
  });
});

describe.skipIf(!url)("RabbitMQ EventType snapshots", () => {
  const settings = () => parseRabbitSettings({ kind: "rabbitmq", settings: { url: url! } });
  const processes: { store: RabbitEventTypeStore; connector: RabbitConnector }[] = [];
  const start = (options: RabbitEventTypeStoreOptions) => {
    const connector = new RabbitConnector(settings(), silentLogger());
    const store = new RabbitEventTypeStore(connector, settings(), silentLogger(), options);
    processes.push({ store, connector });
    return store;
  };
  const stop = async (store: RabbitEventTypeStore) => {
    const i = processes.findIndex((p) => p.store === store);
    const [stopped] = processes.splice(i, 1);
    await store.close();
    await stopped?.connector.close();
  };
  afterEach(async () => {
    await Promise.all([...processes].map((p) => stop(p.store)));
  });

  async function publishRaw(queue: string, batches: ObservedEventType[][]): Promise<void> {
    const model = await connect(url!);
    try {
      const channel = await model.createConfirmChannel();
      for (const batch of batches) {
        channel.sendToQueue(queue, Buffer.from(JSON.stringify(batch)));
      }
      // Something else on the snapshot stream must not be taken for a snapshot.
      channel.sendToQueue(`${queue}.snapshots`, Buffer.from("not a snapshot"), {
        headers: { "eventail-eventtypes-covers": 1_000_000 },
      });
      await channel.waitForConfirms();
    } finally {
      await model.close();
    }
  }

  for (const existing of [false, true]) {
    it(`a process started later reads the newest snapshot and folds only the log after it, counting each flush once${existing ? " (log stream declared earlier without limits)" : ""}`, async () => {
      const queue = `eventail.eventtypes.test-${randomUUID().slice(0, 8)}`;
      if (existing) {
        const model = await connect(url!);
        const channel = await model.createChannel();
        await channel.assertQueue(queue, {
          durable: true,
          arguments: { "x-queue-type": "stream" },
        });
        await model.close();
      }
      const namespace = "snap";
      const a = start({ queue, snapshotEvery: 5 });
      let sum = 0;
      const flushes = 40;
      for (let k = 1; k <= flushes; k++) {
        await a.add([observed(namespace, k, k % 2 ? { id: "x", odd: k } : { id: "y" })], merge);
        sum += k;
        if (k === 1) await a.list(namespace);
      }
      expect((await a.list(namespace))[0]!.count).toBe(sum);
      // Not only the one written at close: snapshots were taken while folding.
      expect(a.snapshotsWritten).toBeGreaterThanOrEqual(2);
      await stop(a);
      // Flushes of a process that wrote no snapshot since: the tail B has to fold.
      await publishRaw(queue, [
        [observed(namespace, 100, { id: "t" })],
        [observed(namespace, 200, { tail: 1 })],
      ]);
      sum += 300;
      const published = flushes + 2;

      const b = start({ queue, snapshotEvery: 1_000 });
      await b.add([], merge);
      const [entry, ...rest] = await b.list(namespace);
      expect(rest).toEqual([]);
      expect(entry).toMatchObject({ count: sum, firstSeen: 1_001, lastSeen: 2_200 });
      expect(b.foldedMessages).toBeGreaterThanOrEqual(2);
      expect(b.foldedMessages).toBeLessThan(published);

      // The same as folding the whole log, schema included.
      const whole = start({ queue, snapshots: false });
      await whole.add([], merge);
      expect(await whole.list(namespace)).toEqual([entry]);
      expect(whole.foldedMessages).toBeGreaterThan(published);
      await Promise.all([...processes].map((p) => stop(p.store)));
      const model = await connect(url!);
      const channel = await model.createChannel();
      await channel.deleteQueue(queue);
      await channel.deleteQueue(`${queue}.snapshots`);
      await model.close();
    });
  }
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
