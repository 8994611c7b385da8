import { randomBytes } from "node:crypto";
import { connectAsync, type MqttClient } from "mqtt";
import { describe } from "vitest";
import { serviceUrl } from "../../support/services.js";
import {
  messageQueueTriggerSuite,
  type QueueBackend,
  type ReadMessage,
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
