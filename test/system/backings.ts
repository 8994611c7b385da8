import { connect as amqpConnect } from "amqplib";
import { Redis } from "ioredis";
import { Kafka, logLevel } from "kafkajs";
import { connect } from "nats";
import { topicName } from "../../src/backing/kafka/naming.js";
import { jetStreamName } from "../../src/backing/nats/naming.js";
import { exchangeName } from "../../src/backing/rabbitmq/naming.js";
import { streamKey } from "../../src/backing/redis/keys.js";
import { startKafkaEngine } from "../support/kafka-engine.js";
import { startNatsEngine } from "../support/nats-engine.js";
import { canStartRedisEngine, startRedisEngine } from "../support/redis-engine.js";
import { hasBinary, serviceUrl } from "../support/services.js";
import type { DurableBackingKind } from "./manifests.js";
import { type SwitchableRelay, startSwitchableRelay } from "./rabbitmq-relays.js";

/** An engine of the test's own, and one way of taking it away and giving it back. */
export interface PrivateEngine {
  /** ConfigMap data that points a Broker at this engine. */
  readonly connection: Readonly<Record<string, string>>;
  fail(): Promise<void>;
  repair(): Promise<void>;
  stop(): Promise<void>;
}

export interface EngineOutage {
  /** What the outage is, for the test name. */
  readonly name: string;
  /** Whether this machine can run the engine; in CI a missing binary fails instead. */
  readonly available: () => boolean;
  readonly start: () => Promise<PrivateEngine>;
}

/** What the system tests need to know about one durable backing. */
export interface SystemBacking {
  readonly kind: DurableBackingKind;
  /** ConfigMap data for the shared engine the global setup found; undefined skips. */
  readonly sharedConnection: () => Readonly<Record<string, string>> | undefined;
  /**
   * How quickly the engine hands a dead process's events to a live one. The defaults (Redis
   * reclaim 15 s, NATS ack wait 30 s, Kafka session 15 s) are shortened so the suite fits its
   * time budget; each stays above the Dispatcher's 5 s keepAlive period so nothing is handed
   * on while its delivery still runs.
   */
  readonly failover: Readonly<Record<string, string>>;
  readonly outages: readonly EngineOutage[];
  /** The environment variable that names the engine when a ConfigMap does not (CONTRACT §1). */
  readonly environment: { readonly variable: string; readonly key: string };
  /** Removes what a test's broker stream left on a shared engine (after its processes exit). */
  readonly forget: (connection: Readonly<Record<string, string>>, stream: string) => Promise<void>;
}

const inCi = () => process.env["CI"] === "true";

export const REDIS: SystemBacking = {
  kind: "redis",
  sharedConnection: () => {
    const url = serviceUrl("redis");
    return url ? { url } : undefined;
  },
  failover: { reclaimIdleMs: "8000", reclaimIntervalMs: "1000" },
  environment: { variable: "REDIS_URL", key: "url" },
  forget: async (connection, stream) => {
    const redis = new Redis(connection["url"]!, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await redis.del(streamKey(stream));
    } finally {
      redis.disconnect();
    }
  },
  outages: [
    {
      name: "redis-server killed (SIGKILL), then restarted on its append-only file",
      available: () => canStartRedisEngine() || inCi(),
      start: async () => {
        const engine = await startRedisEngine();
        return {
          connection: { url: engine.url },
          fail: () => engine.kill(),
          repair: () => engine.restart(),
          stop: () => engine.stop(),
        };
      },
    },
    {
      name: "redis-server hung (SIGSTOP), then resumed",
      available: () => canStartRedisEngine() || inCi(),
      start: async () => {
        const engine = await startRedisEngine();
        return {
          connection: { url: engine.url },
          fail: async () => engine.hang(),
          repair: async () => engine.resume(),
          stop: () => engine.stop(),
        };
      },
    },
  ],
};

async function natsEngineOrThrow() {
  const engine = await startNatsEngine();
  if (!engine) throw new Error("no nats-server binary to start a private engine with");
  return engine;
}

export const NATS: SystemBacking = {
  kind: "nats",
  sharedConnection: () => {
    const url = serviceUrl("nats");
    return url ? { url } : undefined;
  },
  failover: { ackWaitMs: "8000" },
  environment: { variable: "NATS_URL", key: "url" },
  forget: async (connection, stream) => {
    const nc = await connect({ servers: connection["url"]!.split(","), timeout: 5_000 });
    try {
      const jsm = await nc.jetstreamManager();
      await jsm.streams.delete(jetStreamName(stream));
    } finally {
      await nc.close();
    }
  },
  outages: [
    {
      name: "nats-server killed (SIGKILL), then restarted on its JetStream store",
      available: () => hasBinary("nats-server") || hasBinary("/usr/sbin/nats-server") || inCi(),
      start: async () => {
        const engine = await natsEngineOrThrow();
        return {
          connection: { url: engine.url },
          fail: () => engine.kill(),
          repair: () => engine.start(),
          stop: () => engine.stop(),
        };
      },
    },
  ],
};

export const KAFKA: SystemBacking = {
  kind: "kafka",
  sharedConnection: () => {
    const brokers = serviceUrl("kafka");
    return brokers ? { "bootstrap.servers": brokers } : undefined;
  },
  failover: {
    "session.timeout.ms": "6000",
    "rebalance.timeout.ms": "10000",
    "redelivery.delay.ms": "200",
  },
  environment: { variable: "KAFKA_BROKERS", key: "bootstrap.servers" },
  forget: async (connection, stream) => {
    const brokers = connection["bootstrap.servers"]!.split(",");
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    try {
      await admin.connect();
      await admin.deleteTopics({ topics: [topicName("eventail", stream)], timeout: 5_000 });
    } catch {
      // librdkafka's mock cluster refuses DeleteTopics; its topics live only as long as it does.
    } finally {
      await admin.disconnect();
    }
  },
  outages: [
    {
      // The mock cluster keeps its data in memory, so a hang is the outage it can survive.
      name: "the Kafka mock cluster hung (SIGSTOP), then resumed",
      available: () => hasBinary("kcat") || inCi(),
      start: async () => {
        const engine = await startKafkaEngine();
        return {
          connection: { "bootstrap.servers": engine.brokers },
          fail: async () => engine.hang(),
          repair: async () => engine.resume(),
          stop: () => engine.stop(),
        };
      },
    },
  ],
};

/** The shared node behind a relay of the test's own, which `fail` switches in the given way. */
function rabbitmqOutage(name: string, fail: (relay: SwitchableRelay) => Promise<void>) {
  return {
    name,
    available: () => serviceUrl("rabbitmq") !== undefined || inCi(),
    start: async (): Promise<PrivateEngine> => {
      const target = serviceUrl("rabbitmq");
      if (!target) throw new Error("no RabbitMQ to put a relay in front of");
      const relay = await startSwitchableRelay(target);
      return {
        connection: { url: relay.url },
        fail: () => fail(relay),
        repair: () => relay.restore(),
        stop: () => relay.close(),
      };
    },
  };
}

export const RABBITMQ: SystemBacking = {
  kind: "rabbitmq",
  sharedConnection: () => {
    const url = serviceUrl("rabbitmq");
    return url ? { url } : undefined;
  },
  // RabbitMQ requeues a dead connection's unacked messages at once, so nothing to shorten
  // there; the queues a test leaves on the shared node expire 10 min after their last consumer.
  failover: { queueExpiresMs: "600000" },
  environment: { variable: "RABBITMQ_URL", key: "url" },
  forget: async (connection, stream) => {
    const model = await amqpConnect(connection["url"]!);
    try {
      const channel = await model.createChannel();
      channel.on("error", () => undefined);
      await channel.deleteExchange(exchangeName(stream)).catch(() => undefined);
    } finally {
      await model.close().catch(() => undefined);
    }
  },
  outages: [
    rabbitmqOutage(
      "RabbitMQ unreachable (its relay resets every connection and refuses new ones), then back",
      (relay) => relay.refuse(),
    ),
    rabbitmqOutage(
      "RabbitMQ silent (its relay holds every byte both ways), then resumed",
      async (relay) => relay.hold(),
    ),
  ],
};
