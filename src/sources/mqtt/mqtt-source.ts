import { connect, type IClientOptions, type IPublishPacket, type MqttClient } from "mqtt";
import { type CloudEvent, withAttributes } from "../../events/event.js";
import { mqttMessageToEvent } from "../../events/mqtt-binding.js";
import type { Logger } from "../../observability/logger.js";
import { BoundedWork } from "../bounded-work.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";

/** Eventail's MqttSource (eventail.io/v1alpha1). */
export interface MqttSourceSpec {
  /** mqtt://, mqtts://, ws:// or wss:// URL of the MQTT broker (user name in it if needed). */
  readonly brokerUrl: string;
  /** Topic filters, `+` and `#` wildcards allowed. */
  readonly topics: readonly string[];
  /** 0: at most once; 1 (default): acknowledged only after the sink took the message. */
  readonly qos?: 0 | 1;
  /** Stable client id, so a restart resumes the QoS 1 session (default eventail.{ns}.{name}). */
  readonly clientId?: string;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  readonly protocolVersion?: 4 | 5;
  readonly password?: { readonly secretKeyRef: { readonly name: string; readonly key: string } };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** How long the broker keeps a QoS 1 session (and its unacknowledged messages) after we go. */
const SESSION_EXPIRY_SECONDS = 24 * 3600;
/** MQTT 5 PUBACK reason: the receiver accepted the packet but could not process it. */
const UNSPECIFIED_ERROR = 0x80;

/** QoS 0 messages one MQTT connection works on at once; beyond it new ones are dropped. */
export const QOS0_IN_FLIGHT_LIMIT = 100;

/**
 * MqttSource: subscribes to `topics` and hands each message to the sink as a CloudEvent
 * (mqtt-binding.ts). QoS 1 uses a persistent session under a stable client id and manual acks
 * (customHandleAcks): the PUBACK leaves only once the delivery ended, so a message whose delivery
 * shutdown or a crash cut short is sent again by the broker when the source comes back. mqtt.js
 * reads the next packet only after that, so QoS 1 messages go to the sink one at a time, in order.
 * QoS 0 messages are delivered side by side, at most QOS0_IN_FLIGHT_LIMIT at once
 * (QoS 0 is at-most-once: past that they are dropped and counted).
 */
export class MqttSource implements RunnableSource {
  #client: MqttClient | undefined;
  #subscribed = false;
  readonly #stop = new AbortController();
  readonly #qos0: BoundedWork;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: MqttSourceSpec,
    private readonly password: string | undefined,
    private readonly logger: Logger,
  ) {
    this.#qos0 = new BoundedWork(logger, "MqttSource: QoS 0 messages", QOS0_IN_FLIGHT_LIMIT);
  }

  /** QoS 0 messages dropped because QOS0_IN_FLIGHT_LIMIT deliveries were in flight. */
  get qos0Dropped(): number {
    return this.#qos0.skipped;
  }

  ready(): boolean {
    return this.#subscribed && this.#client?.connected === true;
  }

  async start(sink: EventSink): Promise<void> {
    const qos = this.spec.qos ?? 1;
    const protocolVersion = this.spec.protocolVersion ?? 5;
    const options: IClientOptions = {
      clientId: this.spec.clientId || `eventail.${this.namespace}.${this.name}`,
      protocolVersion,
      clean: qos === 0,
      reconnectPeriod: 1_000,
      connectTimeout: 10_000,
      ...(this.password === undefined ? {} : { password: this.password }),
      ...(qos === 1 && protocolVersion === 5
        ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } }
        : {}),
      customHandleAcks: (_topic, _message, packet, done) => {
        void this.#deliver(packet, sink).then((taken) => {
          // Shutdown cut it short: no PUBACK, so the broker sends it again to the next session.
          if (taken === undefined) return;
          done(taken || protocolVersion !== 5 ? 0 : UNSPECIFIED_ERROR);
        });
      },
    };
    const client = connect(this.spec.brokerUrl, options);
    this.#client = client;
    client.on("error", (error) => this.logger.warn({ err: error }, "MqttSource: MQTT error"));
    client.on("offline", () => {
      this.#subscribed = false;
    });
    client.on("message", (_topic, _payload, packet) => {
      if (packet.qos === 0) this.#qos0.run(() => this.#deliver(packet, sink));
    });
    client.on("connect", (connack) => {
      // A resumed session keeps its subscriptions; subscribing again is harmless and covers a
      // broker that lost them.
      if (connack.sessionPresent && this.#subscribed) return;
      client.subscribe([...this.spec.topics], { qos }, (error) => {
        if (error) {
          this.logger.warn(
            { err: error, topics: this.spec.topics },
            "MqttSource: subscribe failed",
          );
          return;
        }
        this.#subscribed = true;
      });
    });
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    const client = this.#client;
    this.#client = undefined;
    this.#subscribed = false;
    // Forced: unacknowledged QoS 1 messages stay with the broker's session for the next start.
    if (client) await client.endAsync(true);
  }

  /** True: the sink took it; false: given up after retries; undefined: cut short by shutdown. */
  async #deliver(packet: IPublishPacket, sink: EventSink): Promise<boolean | undefined> {
    let event: CloudEvent = mqttMessageToEvent(
      {
        topic: packet.topic,
        payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
        properties: packet.properties,
      },
      this.spec.brokerUrl,
    );
    const extensions = this.spec.ceOverrides?.extensions;
    if (extensions) event = withAttributes(event, extensions);
    try {
      const outcome = await sink(event);
      if (outcome.kind === "dropped" && outcome.reason === "shutdown") return undefined;
      return outcome.kind !== "dropped";
    } catch (error) {
      if (this.#stop.signal.aborted) return undefined;
      this.logger.warn({ err: error, topic: packet.topic }, "MqttSource: delivery failed");
      return false;
    }
  }
}
