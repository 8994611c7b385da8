import { randomBytes } from "node:crypto";
import { connectAsync, type MqttClient } from "mqtt";
import { describe, it } from "vitest";
import { serviceUrl } from "../../support/services.js";
import { eventually } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";
import {
  freshTopics,
  messageQueueTriggerSuite,
  type QueueBackend,
  type ReadMessage,
  startTrigger,
} from "./mq-trigger-suite.js";

const url = serviceUrl("mqtt");

function mqttTopics(): QueueBackend {
  const clientId = `eventail-mqt-test-${randomBytes(4).toString("hex")}`;
  const seen = new Map<string, ReadMessage[]>();
  let reader: MqttClient | undefined;
  let producer: MqttClient | undefined;
  return {
    type: "mqtt",
    metadata: { brokerUrl: url!, clientId },
    // The trigger's session exists before anything is produced, as a long-running one's would.
    prepare: async (topics) => {
      const session = await connectAsync(url!, {
        clientId,
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 600 },
      });
      await session.subscribeAsync(topics.topic, { qos: 1 });
      await session.endAsync();
      reader = await connectAsync(url!, { protocolVersion: 5 });
      reader.on("message", (topic, payload, packet) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(packet.properties?.userProperties ?? {})) {
          headers[k] = Array.isArray(v) ? v.join(",") : v;
        }
        if (packet.properties?.contentType) headers["content-type"] = packet.properties.contentType;
        seen.set(topic, [...(seen.get(topic) ?? []), { body: payload.toString("utf8"), headers }]);
      });
      await reader.subscribeAsync([topics.respTopic, topics.errorTopic], { qos: 1 });
      producer = await connectAsync(url!, { protocolVersion: 5 });
    },
    produce: async (topic, body) => {
      await producer!.publishAsync(topic, body, { qos: 1 });
    },
    read: async (topic) => seen.get(topic) ?? [],
    close: async () => {
      await reader?.endAsync();
      await producer?.endAsync();
      // Ends the trigger's persistent session.
      const session = await connectAsync(url!, { clientId, clean: true, protocolVersion: 5 });
      await session.endAsync();
    },
  };
}

describe.skipIf(!url)("MQTT topics", () => {
  messageQueueTriggerSuite(mqttTopics);
});

describe.skipIf(!url)("MessageQueueTrigger on MQTT, QoS 0", () => {
  it("a message published at QoS 0 (mqtt.js's and mosquitto_pub's default) reaches the subscriber", async () => {
    const harness = new SourceHarness();
    const queue = mqttTopics();
    const topics = freshTopics();
    try {
      const subscriber = await harness.recordingSink();
      await queue.prepare(topics);
      await startTrigger(harness, queue, topics, { subscriberUrl: subscriber.url });
      // A QoS 1 message first: once it is in, the trigger is connected and subscribed, and a
      // QoS 0 message (never kept for an absent session) has someone to go to.
      await queue.produce(topics.topic, "one");
      await subscriber.waitFor(1, 15_000);
      const producer = await connectAsync(url!, { protocolVersion: 5 });
      // Subscribed at QoS 1, published at QoS 0: it arrives at QoS 0.
      await producer.publishAsync(topics.topic, "zero", { qos: 0 });
      await producer.endAsync();
      await eventually(
        () => subscriber.events.some((event) => event.data?.toString() === "zero"),
        15_000,
        "the QoS 0 message at the subscriber",
      );
    } finally {
      await harness.close();
      await queue.close();
    }
  });
});
