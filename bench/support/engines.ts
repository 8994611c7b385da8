import { type KafkaEngine, startKafkaEngine } from "../../test/support/kafka-engine.js";
import { hasBinary, portOpen } from "../../test/support/services.js";

/** Where each durable engine answers, or why the bench skips it. */
export type EngineKind = "redis" | "nats" | "kafka" | "rabbitmq";

export type Located = { readonly url: string } | { readonly skip: string };

export class Engines {
  /** A promise, so scenarios prepared side by side share one mock (a second would be orphaned). */
  private kafkaMock: Promise<KafkaEngine> | undefined;

  /** REDIS_URL / NATS_URL / KAFKA_BROKERS, then the default local port; Kafka: a mock cluster. */
  async locate(kind: EngineKind): Promise<Located> {
    if (kind === "redis") {
      const url = process.env["REDIS_URL"];
      if (url) return { url };
      if (await portOpen("127.0.0.1", 6379)) return { url: "redis://127.0.0.1:6379" };
      return { skip: "no Redis (REDIS_URL unset, nothing on 127.0.0.1:6379)" };
    }
    if (kind === "nats") {
      const url = process.env["NATS_URL"];
      if (url) return { url };
      if (await portOpen("127.0.0.1", 4222)) return { url: "nats://127.0.0.1:4222" };
      return { skip: "no NATS (NATS_URL unset, nothing on 127.0.0.1:4222)" };
    }
    if (kind === "rabbitmq") {
      const url = process.env["RABBITMQ_URL"];
      if (url) return { url };
      if (await portOpen("127.0.0.1", 5672)) return { url: "amqp://guest:guest@127.0.0.1:5672" };
      return { skip: "no RabbitMQ (RABBITMQ_URL unset, nothing on 127.0.0.1:5672)" };
    }
    const brokers = process.env["KAFKA_BROKERS"];
    if (brokers) return { url: brokers };
    if (!hasBinary("kcat")) return { skip: "no Kafka (KAFKA_BROKERS unset, no kcat for a mock)" };
    this.kafkaMock ??= startKafkaEngine();
    try {
      return { url: (await this.kafkaMock).brokers };
    } catch (error) {
      this.kafkaMock = undefined;
      return { skip: (error as Error).message };
    }
  }

  /** Removes what a run left on a shared engine (its namespace's streams). Best effort. */
  async forget(kind: EngineKind, url: string, namespace: string): Promise<void> {
    const stream = `broker.${namespace}.default`;
    try {
      if (kind === "redis") {
        const { Redis } = await import("ioredis");
        const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        // Disconnected however it ends: a client left reconnecting keeps the bench from exiting.
        try {
          await redis.connect();
          const keys: string[] = [];
          let cursor = "0";
          do {
            const [next, found] = await redis.scan(
              cursor,
              "MATCH",
              `*${namespace}*`,
              "COUNT",
              1000,
            );
            cursor = next;
            keys.push(...found);
          } while (cursor !== "0");
          if (keys.length > 0) await redis.del(...keys);
        } finally {
          redis.disconnect();
        }
      } else if (kind === "nats") {
        const { connect } = await import("nats");
        const { jetStreamName } = await import("../../src/backing/nats/naming.js");
        const connection = await connect({ servers: url });
        const manager = await connection.jetstreamManager();
        await manager.streams.delete(jetStreamName(stream)).catch(() => false);
        await connection.close();
      } else if (kind === "rabbitmq") {
        const { connect } = await import("amqplib");
        const { exchangeName, queueName } = await import("../../src/backing/rabbitmq/naming.js");
        const connection = await connect(url);
        try {
          const channel = await connection.createChannel();
          channel.on("error", () => undefined);
          await channel.deleteQueue(queueName(stream, `trigger.${namespace}.t0`));
          await channel.deleteExchange(exchangeName(stream));
        } finally {
          await connection.close().catch(() => undefined);
        }
      }
      // Kafka: the mock cluster lives only as long as this run.
    } catch {
      // Leftovers only cost space on the engine; the next run uses its own namespace.
    }
  }

  async stop(): Promise<void> {
    const mock = this.kafkaMock;
    this.kafkaMock = undefined;
    await (await mock?.catch(() => undefined))?.stop();
  }
}
