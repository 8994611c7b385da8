import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import { eventTypeKey, eventTypeTopic } from "../../../src/backing/kafka/event-type-store.js";
import type { KafkaBacking } from "../../../src/backing/kafka/index.js";
import { serviceUrl } from "../../support/services.js";
import { eventually, kafkaBacking } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");
const backings: KafkaBacking[] = [];
afterEach(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
});

const merge = (a: unknown, b: unknown) => ({ ...(a as object), ...(b as object) });

describe.skipIf(!brokers)("auto-created EventTypes on a Kafka topic", () => {
  it("a record written by a writer that had not read the latest is healed by a rewrite", async () => {
    const prefix = `ettest-${randomUUID().slice(0, 8)}`;
    const a = (await kafkaBacking(brokers!, { "name.prefix": prefix })) as KafkaBacking;
    backings.push(a);
    const identity = { namespace: "ns", broker: "b", type: "t", source: "s" };
    await a.eventTypes.add([{ ...identity, count: 5, firstSeen: 100, lastSeen: 200 }], merge);
    // A racing writer that never read a's record: on a compacted topic only this one would stay.
    const kafka = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: eventTypeTopic(prefix),
      messages: [
        {
          key: eventTypeKey(identity),
          value: JSON.stringify({ ...identity, by: "racer", writers: { racer: [1, 50, 60] } }),
        },
      ],
    });
    await producer.disconnect();
    const latest = () =>
      (
        a.eventTypes as unknown as {
          view: Map<string, { latest?: { writers: Record<string, number[]> } }>;
        }
      ).view.get(eventTypeKey(identity))?.latest?.writers;
    await eventually(
      "a rewrite holding both writers' counts",
      () => latest()?.[a.eventTypes.writer]?.[0] === 5 && latest()?.["racer"]?.[0] === 1,
      20_000,
      latest,
    );
    // A fresh process folds the topic to the sum.
    const c = (await kafkaBacking(brokers!, { "name.prefix": prefix })) as KafkaBacking;
    backings.push(c);
    expect(await c.eventTypes.list("ns")).toEqual([
      { ...identity, count: 6, firstSeen: 50, lastSeen: 200 },
    ]);
  }, 60_000);
});
