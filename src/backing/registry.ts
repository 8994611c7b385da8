import type { Logger } from "../observability/logger.js";
import type { Backing, BackingConfig, EngineLease } from "./backing.js";

/**
 * Creates the backing a ConfigMap or channel template asks for. Engines are imported on demand,
 * so a memory-only run never loads a Kafka, NATS or Redis client.
 */
export async function createBacking(
  config: BackingConfig,
  deps: { logger: Logger },
): Promise<Backing> {
  switch (config.kind) {
    case "memory": {
      const { MemoryBacking } = await import("./memory/memory-backing.js");
      return new MemoryBacking();
    }
    case "redis":
      return (await import("./redis/index.js")).createBacking(config, deps);
    case "nats":
      return (await import("./nats/index.js")).createBacking(config, deps);
    case "kafka":
      return (await import("./kafka/index.js")).createBacking(config, deps);
    case "rabbitmq":
      return (await import("./rabbitmq/index.js")).createBacking(config, deps);
  }
}

/**
 * A lease named `name` with a term of `ttlMs` on the engine `config` names, on a connection of
 * its own; undefined when that engine keeps none: memory (one process) and Kafka (see below).
 */
export async function createLease(
  config: BackingConfig,
  name: string,
  ttlMs: number,
  deps: { logger: Logger },
): Promise<EngineLease | undefined> {
  switch (config.kind) {
    case "redis":
      return new (await import("./redis/lease.js")).RedisLease(config, name, ttlMs, deps.logger);
    case "nats":
      return new (await import("./nats/lease.js")).NatsLease(config, name, ttlMs, deps.logger);
    case "rabbitmq": {
      const { RabbitLease } = await import("./rabbitmq/lease.js");
      return new RabbitLease(config, name, ttlMs, deps.logger);
    }
    // Kafka has no compare-and-set to build one on. Group membership (whoever is assigned
    // partition 0 leads, stepping down on rebalance or missed heartbeats) could stand in, but
    // against the librdkafka mock the tests run on, a second kafkajs member crashed joining
    // ("request being malformed"), so it could not be shown to work: not built.
    case "kafka":
    case "memory":
      return undefined;
  }
}

/** Identity of a backing configuration: brokers with the same one share a connection. */
export function backingKey(config: BackingConfig): string {
  const settings = Object.keys(config.settings)
    .sort()
    .map((key) => `${key}=${config.settings[key]}`);
  return [config.kind, ...settings].join("|");
}
