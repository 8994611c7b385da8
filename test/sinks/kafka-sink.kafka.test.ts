import { randomUUID } from "node:crypto";
import { type Consumer, Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import { decodeKafkaRecord, recordHeaders } from "../../src/events/kafka-binding.js";
import { serviceUrl } from "../support/services.js";
import { eventually, startWithManifests } from "../support/sink.js";

const brokers = serviceUrl("kafka");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function kafkaSinkYaml(topic: string, servers: string, extra = ""): string {
  return `apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata:
  name: orders
  namespace: default
spec:
  topic: ${topic}
  bootstrapServers:
    - ${JSON.stringify(servers)}
${extra}`;
}

async function eventail(yaml: string) {
  const running = await startWithManifests(yaml);
  cleanups.push(() => running.close());
  return running;
}

const ORDER = {
  "ce-specversion": "1.0",
  "ce-id": "order-1",
  "ce-source": "/shop",
  "ce-type": "dev.example.order",
  "ce-partitionkey": "customer-7",
  "content-type": "application/json",
};

/** Reads `topic` from its start with a consumer group of the test's own. */
async function readTopic(topic: string): Promise<KafkaMessage[]> {
  const kafka = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({
    groupId: `reader-${topic}`,
    // librdkafka's mock cluster: short group timeouts so the join stays quick.
    sessionTimeout: 3000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 500,
  });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  cleanups.push(() => consumer.disconnect());
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  return messages;
}

describe.skipIf(!brokers)("KafkaSink against a Kafka cluster", () => {
  it.each([
    ["binary (the default)", "", "application/json"],
    ["structured", "  contentMode: structured\n", "application/cloudevents+json; charset=UTF-8"],
  ])(
    "produces each event in %s content mode, keyed by partitionkey, and answers 202 once Kafka has it",
    async (_mode, extra, contentType) => {
      const topic = `kafkasink-${randomUUID().slice(0, 8)}`;
      const running = await eventail(kafkaSinkYaml(topic, brokers!, extra));
      const response = await fetch(`${running.url}/sinks/default/orders`, {
        method: "POST",
        headers: ORDER,
        body: '{"total":12}',
      });
      expect(response.status).toBe(202);
      const messages = await readTopic(topic);
      await eventually(() => messages.length === 1, 30_000, "the record");
      const [record] = messages;
      expect(record!.key?.toString()).toBe("customer-7");
      const headers = recordHeaders(record!.headers);
      expect(headers.find(([name]) => name === "content-type")?.[1].toString()).toBe(contentType);
      const event = decodeKafkaRecord(headers, record!.value);
      expect(event?.attributes).toMatchObject({
        id: "order-1",
        source: "/shop",
        type: "dev.example.order",
        partitionkey: "customer-7",
        datacontenttype: "application/json",
      });
      expect(JSON.parse(event!.data!.toString())).toEqual({ total: 12 });
    },
  );
});

describe("KafkaSink without a reachable cluster", () => {
  it("answers 503 BACKING_UNAVAILABLE (the sender retries) instead of accepting the event", async () => {
    const running = await eventail(kafkaSinkYaml("orders", "127.0.0.1:1"));
    const response = await fetch(`${running.url}/sinks/default/orders`, {
      method: "POST",
      headers: ORDER,
      body: "{}",
    });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: "BACKING_UNAVAILABLE" });
  });
});
