import { locateService, type ServiceName, stopStartedServices } from "./services.js";

const ENV: Record<ServiceName, string> = {
  redis: "REDIS_URL",
  nats: "NATS_URL",
  kafka: "KAFKA_BROKERS",
  rabbitmq: "RABBITMQ_URL",
  mqtt: "MQTT_URL",
};

/**
 * Locates (or starts) Redis, NATS and a Kafka-protocol peer once per test run and hands their
 * addresses to the test workers through the environment.
 */
export async function setup(): Promise<void> {
  for (const service of ["redis", "nats", "kafka", "rabbitmq", "mqtt"] as const) {
    const url = await locateService(service);
    if (url) {
      process.env[ENV[service]] = url;
    } else if (process.env["CI"] === "true") {
      throw new Error(`CI needs ${service} but none was found, started or containerised`);
    } else {
      console.warn(`[eventail tests] ${service} not available: its integration tests are skipped`);
    }
  }
}

export async function teardown(): Promise<void> {
  await stopStartedServices();
}
