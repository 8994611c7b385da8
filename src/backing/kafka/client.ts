import { Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import type { KafkaSettings } from "./settings.js";

/**
 * The kafkajs client every producer, consumer and admin of one backing comes from. Its retries
 * are short on purpose: the backing answers callers within bounded time and retries on its own
 * schedule (publish rejects for a 503, consumers restart), instead of kafkajs' minute-long loops.
 */
export function createKafkaClient(settings: KafkaSettings, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: "kafkajs" });
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    connectionTimeout: settings.connectionTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    enforceRequestTimeout: true,
    retry: { initialRetryTime: 100, maxRetryTime: 1_000, retries: 3 },
    // kafkajs reports transient connection trouble as errors; to us it is a warning until a
    // caller fails, and the caller logs that.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, log }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _name, ...fields } = log;
        kafkaLogger.warn({ ...fields, namespace }, message);
      },
  });
}
