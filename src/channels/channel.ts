import {
  type Backing,
  type BackingConfig,
  BackingUnavailableError,
  channelStream,
} from "../backing/backing.js";
import type { CloudEvent } from "../events/event.js";
import type { IngressTarget } from "../events/ingress-target.js";

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
export class ChannelRuntime implements IngressTarget {
  readonly stream: string;

  constructor(
    readonly namespace: string,
    readonly name: string,
    readonly backing: Backing,
    public bodyLimit: number,
  ) {
    this.stream = channelStream(namespace, name);
  }

  /**
   * Set while some consumer of this stream is not subscribed (starting, or its engine was down
   * when it tried): events accepted now would never reach it, so ingress answers 503 instead.
   */
  hold: string | undefined = "starting";

  async ingest(events: readonly CloudEvent[]): Promise<void> {
    if (this.hold !== undefined) throw new BackingUnavailableError(this.hold, this.backing.kind);
    await this.backing.publish(this.stream, events);
  }
}
