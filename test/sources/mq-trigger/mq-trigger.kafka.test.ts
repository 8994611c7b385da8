import { type Consumer, Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { describe } from "vitest";
import { serviceUrl } from "../../support/services.js";
import {
  messageQueueTriggerSuite,
  type QueueBackend,
  type ReadMessage,
} from "./mq-trigger-suite.js";

const brokers = serviceUrl("kafka");
// librdkafka's mock cluster: short group timeouts so joins and restarts stay quick.
const TUNING = { sessionTimeoutMs: 3000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 500 };

function kafkaTopics(): QueueBackend {
  const kafka = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING });
  let producer: Producer | undefined;
  let consumer: Consumer | undefined;
  const received = new Map<string, ReadMessage[]>();
  return {
    type: "kafka",
    metadata: { bootstrapServers: brokers! },
    // Reads the reply and error topics from their start with a consumer of the test's own.
    prepare: async ({ respTopic, errorTopic }) => {
      producer = kafka.producer({
        allowAutoTopicCreation: true,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      // Topics appear on first use; make both exist before subscribing to them.
      await producer.send({ topic: respTopic, messages: [] }).catch(() => undefined);
      consumer = kafka.consumer({
        groupId: `reader-${respTopic}`,
        sessionTimeout: 3000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTimeInMs: 500,
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [respTopic, errorTopic], fromBeginning: true });
      received.set(respTopic, []);
      received.set(errorTopic, []);
      await consumer.run({
        eachMessage: async ({ topic, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {}))
            headers[name] = String(value);
          received.get(topic)?.push({ body: message.value?.toString() ?? "", headers });
        },
      });
    },
    produce: async (topic, body) => {
      await producer!.send({ topic, messages: [{ partition: 0, value: body }] });
    },
    read: async (topic) => [...(received.get(topic) ?? [])],
    close: async () => {
      await consumer?.disconnect();
      await producer?.disconnect();
    },
  };
}

describe.skipIf(!brokers)("Kafka", () => {
  messageQueueTriggerSuite(kafkaTopics, TUNING);
});
