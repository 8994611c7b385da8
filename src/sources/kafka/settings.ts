/**
 * KafkaSource settings that validation needs without loading kafkajs (kept apart from client.ts
 * so `eventail validate` and brokers without Kafka never import the client).
 */

export const KEY_TYPE_ANNOTATION = "kafkasources.sources.knative.dev/key-type";

/** `["a:9092,b:9092", "c:9092"]` → `["a:9092", "b:9092", "c:9092"]` (Knative accepts both). */
export function brokerList(servers: readonly string[] | string): string[] {
  const list = typeof servers === "string" ? [servers] : servers;
  return list
    .flatMap((entry) => entry.split(","))
    .map((entry) => entry.trim())
    .filter(Boolean);
}
