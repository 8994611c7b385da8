import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import type { Logger } from "../../observability/logger.js";
import { BoundedWork } from "../bounded-work.js";
import { QOS0_IN_FLIGHT_LIMIT } from "../mqtt/mqtt-source.js";
import type { MessageHandler, MessageQueue, OutgoingMessage, QueueMessage } from "./queue.js";

export interface MqttQueueSettings {
  readonly url: string;
  /** The topic filter subscribed to (wildcards allowed). */
  readonly topic: string;
  /** The session's client id: stable, so unacknowledged messages come back after a restart. */
  readonly clientId: string;
}

const SESSION_EXPIRY_SECONDS = 24 * 3600;

/**
 * An MQTT topic as a MessageQueue: subscribed at QoS 1 in a persistent MQTT 5 session, each
 * message PUBACKed only once handled (customHandleAcks), one at a time. A message published at
 * QoS 0 arrives at QoS 0 (min of publish and subscribe QoS): nothing to acknowledge, so it is
 * handled at most once, beside the others, up to MqttSource's QOS0_IN_FLIGHT_LIMIT, as MqttSource does. Replies
 * and errors are published at QoS 1 to the respTopic and errorTopic, headers as user properties.
 */
export class MqttQueue implements MessageQueue {
  private client: MqttClient | undefined;
  /**
   * Replies leave on a connection of their own: the consuming one reads no packet (a PUBACK to
   * our publish included) until the message in hand is acknowledged, after its reply went out.
   */
  private publisher: MqttClient | undefined;
  private sequence = 0;
  private readonly qos0: BoundedWork;

  constructor(
    private readonly settings: MqttQueueSettings,
    private readonly logger: Logger,
  ) {
    this.qos0 = new BoundedWork(logger, "MQTT queue: QoS 0 messages", QOS0_IN_FLIGHT_LIMIT);
  }

  start(handler: MessageHandler): void {
    if (this.client) return;
    const options: IClientOptions = {
      clientId: this.settings.clientId,
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 1_000,
      properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS },
      // mqtt.js calls it for QoS 1 and 2 only; QoS 0 messages come as 'message' events (below).
      customHandleAcks: (topic, message, packet, done) => {
        void handler(this.message(topic, message, packet)).then(
          (handled) => {
            // Not handled (shutdown): no PUBACK, the session keeps it for the next start.
            if (handled) done(0);
          },
          () => undefined,
        );
      },
    };
    const client = connect(this.settings.url, options);
    this.client = client;
    this.publisher = connect(this.settings.url, {
      clientId: `${this.settings.clientId}.replies`,
      protocolVersion: 5,
      reconnectPeriod: 1_000,
    });
    this.publisher.on("error", (error) => this.logger.warn({ err: error }, "MQTT reply error"));
    client.on("error", (error) => this.logger.warn({ err: error }, "MQTT queue error"));
    client.on("message", (topic, message, packet) => {
      if (packet.qos === 0) this.qos0.run(() => handler(this.message(topic, message, packet)));
    });
    client.on("connect", () => {
      client.subscribe(this.settings.topic, { qos: 1 }, (error) => {
        if (error) this.logger.warn({ err: error }, "MQTT queue: subscribe failed");
      });
    });
  }

  async publish(topic: string, message: OutgoingMessage): Promise<void> {
    const client = this.publisher;
    if (!client) throw new Error("the MQTT queue is not started");
    const { "content-type": contentType, ...userProperties } = message.headers;
    await client.publishAsync(topic, message.body, {
      qos: 1,
      properties: {
        // An empty user-properties map does not encode (mqtt-packet), so none is sent then.
        ...(Object.keys(userProperties).length > 0 ? { userProperties } : {}),
        ...(contentType ? { contentType } : {}),
      },
    });
  }

  private message(topic: string, payload: Buffer | string, packet: IPublishPacket): QueueMessage {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(packet.properties?.userProperties ?? {})) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(",") : String(value);
    }
    if (packet.properties?.contentType) headers["content-type"] = packet.properties.contentType;
    return {
      id: `${topic}#${++this.sequence}`,
      topic,
      body: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      headers,
    };
  }

  async stop(): Promise<void> {
    const client = this.client;
    const publisher = this.publisher;
    this.client = undefined;
    this.publisher = undefined;
    if (client) await client.endAsync(true);
    if (publisher) await publisher.endAsync();
  }
}
