import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/** A Broker on the chosen backing and its Triggers, written as a user would for `eventail run -f`. */
export interface BenchTopology {
  /** Backing kind; `memory` writes no ConfigMap. */
  readonly backing: "memory" | "redis" | "nats" | "kafka" | "rabbitmq";
  /** ConfigMap data besides `backing` (url, bootstrap.servers). */
  readonly settings?: Readonly<Record<string, string>>;
  readonly triggers: number;
  /** When set, trigger i filters on `type = typeOf(i)`; otherwise triggers take every event. */
  readonly typeOf?: (index: number) => string;
  /** Subscriber base URL: trigger i delivers to `${subscriber}/t/${i}`. */
  readonly subscriber: string;
  /**
   * Turns authentication-oidc on, with this PEM P-256 key as Eventail's signing key (the
   * Secret eventail-signing-key), so the bench can sign the producer's token with it.
   */
  readonly signingKeyPem?: string;
  /** The EventType registry: a declared schema checked at ingress, or auto-creation. */
  readonly eventTypes?: { readonly mode: "validate" | "auto-create"; readonly type: string };
}

/** The JSON Schema of the load generator's payload (bench/processes/loadgen.ts). */
const PAYLOAD_SCHEMA = {
  type: "object",
  required: ["order", "customer", "items", "currency"],
  properties: {
    order: { type: "string", format: "uuid" },
    customer: { type: "string" },
    items: {
      type: "array",
      items: {
        type: "object",
        required: ["sku", "quantity", "price"],
        properties: {
          sku: { type: "string" },
          quantity: { type: "integer", minimum: 1 },
          price: { type: "integer" },
        },
      },
    },
    currency: { type: "string", enum: ["EUR", "USD"] },
  },
};

export interface WrittenTopology {
  readonly dir: string;
  readonly namespace: string;
  /** Broker ingress path. */
  readonly ingressPath: string;
  remove(): void;
}

/**
 * Each run gets its own namespace, so streams and consumer groups on a shared engine never meet
 * those of another run. One multi-document file, the way large configurations are usually kept.
 */
export function writeTopology(topology: BenchTopology): WrittenTopology {
  const namespace = `bench-${randomBytes(4).toString("hex")}`;
  const documents: unknown[] = [];
  const annotations: Record<string, string> = {};
  const broker: Record<string, unknown> = {
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: { name: "default", namespace, annotations },
  };
  if (topology.backing !== "memory") {
    // The run's journeys age out of the shared engine within minutes rather than the default
    // day: a day of bench journeys (once 494 MB in NATS) slows every later journey lookup there.
    // The retention does not change what writing a report costs.
    annotations["eventail.io/journey.retention"] = "PT10M";
    documents.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "bench-backing", namespace },
      data: { backing: topology.backing, ...topology.settings },
    });
    broker["spec"] = { config: { apiVersion: "v1", kind: "ConfigMap", name: "bench-backing" } };
  }
  if (topology.signingKeyPem !== undefined) {
    documents.push(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "config-features", namespace: "knative-eventing" },
        data: { "authentication-oidc": "enabled" },
      },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "eventail-signing-key", namespace },
        stringData: { "bench.pem": topology.signingKeyPem },
      },
    );
  }
  const eventTypes = topology.eventTypes;
  if (eventTypes?.mode === "auto-create") {
    documents.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "config-features", namespace: "knative-eventing" },
      data: { "eventtype-auto-create": "enabled" },
    });
  } else if (eventTypes?.mode === "validate") {
    annotations["eventail.io/ingress.validate"] = "schema";
    documents.push({
      apiVersion: "eventing.knative.dev/v1beta2",
      kind: "EventType",
      metadata: { name: "bench-order", namespace },
      spec: {
        broker: "default",
        type: eventTypes.type,
        schemaData: JSON.stringify(PAYLOAD_SCHEMA),
      },
    });
  }
  documents.push(broker);
  for (let i = 0; i < topology.triggers; i++) {
    documents.push({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: `t${i}`, namespace },
      spec: {
        broker: "default",
        ...(topology.typeOf ? { filter: { attributes: { type: topology.typeOf(i) } } } : {}),
        subscriber: { uri: `${topology.subscriber}/t/${i}` },
      },
    });
  }
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-bench-"));
  // JSON is YAML: one stream of documents keeps the writing cheap for ten thousand triggers.
  writeFileSync(
    path.join(dir, "topology.yaml"),
    documents.map((document) => JSON.stringify(document)).join("\n---\n"),
  );
  return {
    dir,
    namespace,
    ingressPath: `/${namespace}/default`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
