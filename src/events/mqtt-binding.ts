/**
 * An MQTT message as a CloudEvent (Eventail's MqttSource): type `io.eventail.mqtt.message`,
 * source the broker URL and topic, subject the topic, the payload the data (datacontenttype
 * from MQTT 5's content-type property), and MQTT 5 user properties as extensions where their
 * names are valid attribute names (lower-cased; others are left out, never renamed onto another).
 * Pure: no client, no I/O.
 */
import { randomUUID } from "node:crypto";
import {
  type AttributeValue,
  type CloudEvent,
  createEvent,
  isValidAttributeName,
} from "./event.js";

export const MQTT_EVENT_TYPE = "io.eventail.mqtt.message";

/** Attributes a user property must not overwrite. */
const RESERVED = new Set([
  "specversion",
  "id",
  "source",
  "type",
  "subject",
  "time",
  "datacontenttype",
  "dataschema",
  "data",
  "data_base64",
]);

/** What of a received packet the binding reads (mqtt.js' IPublishPacket fits). */
export interface MqttMessage {
  readonly topic: string;
  readonly payload: Buffer;
  readonly properties?:
    | {
        readonly contentType?: string | undefined;
        readonly userProperties?: Readonly<Record<string, string | string[]>> | undefined;
      }
    | undefined;
}

/** `mqtt://host:port/topic`: the broker URL without credentials, then the topic. */
export function mqttEventSource(brokerUrl: string, topic: string): string {
  let base = brokerUrl;
  try {
    const url = new URL(brokerUrl);
    url.username = "";
    url.password = "";
    url.pathname = "";
    url.search = "";
    url.hash = "";
    base = url.toString();
  } catch {
    // Not a URL: used as it is.
  }
  return `${base.replace(/\/+$/, "")}/${topic}`;
}

export function mqttMessageToEvent(
  message: MqttMessage,
  brokerUrl: string,
  now: () => Date = () => new Date(),
): CloudEvent {
  const extensions: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(message.properties?.userProperties ?? {})) {
    const name = key.toLowerCase();
    if (!isValidAttributeName(name) || RESERVED.has(name)) continue;
    // A repeated property keeps its values in order, comma-separated.
    extensions[name] = Array.isArray(value) ? value.join(",") : String(value);
  }
  const contentType = message.properties?.contentType;
  return createEvent(
    {
      ...extensions,
      specversion: "1.0",
      id: randomUUID(),
      source: mqttEventSource(brokerUrl, message.topic),
      type: MQTT_EVENT_TYPE,
      subject: message.topic,
      time: now().toISOString(),
      ...(contentType ? { datacontenttype: contentType } : {}),
    },
    message.payload.length > 0 ? message.payload : undefined,
  );
}
