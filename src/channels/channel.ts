import { type Backing, type BackingConfig, channelStream } from "../backing/backing.js";
import { StreamIngress } from "../backing/stream-ingress.js";

/** Channel kinds and the backing each one stores its events on. */
export const CHANNEL_KINDS: Readonly<Record<string, BackingConfig["kind"]>> = {
  InMemoryChannel: "memory",
  KafkaChannel: "kafka",
  NatsJetStreamChannel: "nats",
  RedisStreamChannel: "redis",
};

/**
 * The backing a channel kind asks for. Connection settings come from the
 * `eventail.io/backing-config` annotation's ConfigMap when given, else from the environment.
 */
export function channelBackingConfig(
  kind: string,
  settings: Readonly<Record<string, string>> = {},
): BackingConfig {
  const backing = CHANNEL_KINDS[kind] ?? "memory";
  return { kind: backing, settings: backing === "memory" ? {} : settings };
}

/**
 * One channel: its ingress appends to its stream (no TTL processing, unlike a broker); each
 * subscription consumes the stream under its own name.
 */
export class ChannelRuntime extends StreamIngress {
  constructor(namespace: string, name: string, backing: Backing, bodyLimit: number) {
    super(namespace, name, backing, bodyLimit, channelStream(namespace, name));
  }
}
