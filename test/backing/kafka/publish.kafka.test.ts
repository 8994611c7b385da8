import { Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { topicName } from "../../../src/backing/kafka/naming.js";
import type { CloudEvent } from "../../../src/events/event.js";
import { decodeStructured } from "../../../src/events/json-format.js";
import { serviceUrl } from "../../support/services.js";
import { eventually, freshStream, kafkaBacking, testEvent } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");

interface StoredRecord {
  readonly partition: number;
  readonly message: KafkaMessage;
}

describe.skipIf(!brokers)("kafka backing publish", () => {
  const kafka = new Kafka({ brokers: brokers?.split(",") ?? [], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  let backing: Backing;
  const readers: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });
  afterEach(async () => {
    await Promise.all(readers.splice(0).map((stop) => stop()));
    await backing?.close();
  });

  /** Reads the whole topic with a plain kafkajs consumer, as any other Kafka client would. */
  async function readTopic(stream: string, count: number): Promise<StoredRecord[]> {
    const records: StoredRecord[] = [];
    const consumer = kafka.consumer({
      groupId: `reader-${stream}`,
      sessionTimeout: 3_000,
      heartbeatInterval: 500,
      maxWaitTimeInMs: 50,
    });
    readers.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topics: [topicName("eventail", stream)], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, message });
      },
    });
    await eventually(`${count} records`, () => records.length >= count, 20_000);
    return records;
  }

  async function stored(stream: string): Promise<number> {
    const offsets = await admin.fetchTopicOffsets(topicName("eventail", stream));
    return offsets.reduce((sum, p) => sum + Number(p.high), 0);
  }

  it("resolves only once the cluster holds the records", async () => {
    backing = await kafkaBacking(brokers!);
    const stream = freshStream();
    await backing.publish(stream, [testEvent(0)]);
    const before = await stored(stream);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        backing.publish(stream, [testEvent(i + 1), testEvent(i + 100)]),
      ),
    );
    expect((await stored(stream)) - before).toBe(100);
  });

  it.each<[string, CloudEvent, string | null]>([
    [
      "an event with a partitionkey is keyed by it",
      testEvent(1, { partitionkey: "order-17" }),
      "order-17",
    ],
    ["an event without one has no key", testEvent(2), null],
  ])("records are structured-mode CloudEvents: %s", async (_, event, key) => {
    backing = await kafkaBacking(brokers!);
    const stream = freshStream();
    await backing.publish(stream, [event]);
    const [record] = await readTopic(stream, 1);
    expect(record!.message.key === null ? null : record!.message.key.toString()).toBe(key);
    expect(record!.message.headers?.["content-type"]?.toString()).toBe(
      "application/cloudevents+json; charset=UTF-8",
    );
    // Any CloudEvents JSON reader gets the same event back.
    const decoded = decodeStructured(record!.message.value!);
    expect(decoded.attributes).toEqual(event.attributes);
    expect(decoded.data?.equals(event.data!)).toBe(true);
  });

  it("keeps one publish() call's keyless events on one partition, in order, and rotates partitions across flushes", async () => {
    backing = await kafkaBacking(brokers!);
    const stream = freshStream();
    const calls = 8;
    for (let call = 0; call < calls; call++) {
      await backing.publish(
        stream,
        [0, 1, 2].map((i) => testEvent(call * 10 + i)),
      );
    }
    const records = await readTopic(stream, calls * 3);
    const partitionOf = new Map<string, number>();
    const perPartition = new Map<number, string[]>();
    for (const { partition, message } of records) {
      const id = String(decodeStructured(message.value!).attributes["id"]);
      partitionOf.set(id, partition);
      perPartition.set(partition, [...(perPartition.get(partition) ?? []), id]);
    }
    for (let call = 0; call < calls; call++) {
      const ids = [0, 1, 2].map((i) => `e-${call * 10 + i}`);
      expect(new Set(ids.map((id) => partitionOf.get(id))).size, `call ${call}`).toBe(1);
      const inPartition = perPartition.get(partitionOf.get(ids[0]!)!)!;
      expect(
        inPartition.filter((id) => ids.includes(id)),
        `call ${call}`,
      ).toEqual(ids);
    }
    // Four partitions (the mock's auto-created default): eight flushes visit every one.
    expect(new Set(partitionOf.values()).size).toBe(4);
  });

  it("publishes with a partitionkey land on the same partition every time", async () => {
    backing = await kafkaBacking(brokers!);
    const stream = freshStream();
    for (let i = 0; i < 6; i++) {
      await backing.publish(stream, [testEvent(i, { partitionkey: i % 2 === 0 ? "even" : "odd" })]);
    }
    const records = await readTopic(stream, 6);
    const byKey = new Map<string, Set<number>>();
    for (const { partition, message } of records) {
      const key = message.key!.toString();
      byKey.set(key, (byKey.get(key) ?? new Set()).add(partition));
    }
    expect([...byKey.values()].map((partitions) => partitions.size)).toEqual([1, 1]);
  });
});
