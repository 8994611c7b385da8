import { Kafka, type KafkaConfig, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "../../observability/logger.js";

export { brokerList } from "./settings.js";

/**
 * kafkajs logs through pino. Its ERROR lines are mostly recoverable (rebalances, a broker
 * restarting) and kafkajs retries them itself, so they are warnings here; its INFO is chatty.
 */
function logCreator(logger: Logger) {
  return () =>
    ({ level, log }: LogEntry) => {
      const { message, ...fields } = log;
      if (level === logLevel.ERROR || level === logLevel.WARN)
        logger.warn(fields, `kafka: ${message}`);
      else if (level === logLevel.INFO) logger.debug(fields, `kafka: ${message}`);
      else logger.trace(fields, `kafka: ${message}`);
    };
}

/** `extra` adds client settings (a KafkaSink's TLS and SASL, its shorter timeouts). */
export function kafkaClient(
  brokers: readonly string[],
  logger: Logger,
  clientId: string,
  extra: Omit<KafkaConfig, "brokers" | "clientId"> = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers: [...brokers],
    logLevel: logLevel.INFO,
    logCreator: logCreator(logger),
    ...extra,
  });
}
