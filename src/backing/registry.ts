import type { Logger } from "../observability/logger.js";
import type { Backing, BackingConfig } from "./backing.js";

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

/** Identity of a backing configuration: brokers with the same one share a connection. */
export function backingKey(config: BackingConfig): string {
  const settings = Object.keys(config.settings)
    .sort()
    .map((key) => `${key}=${config.settings[key]}`);
  return [config.kind, ...settings].join("|");
}
