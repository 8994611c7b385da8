import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export type DurableBackingKind = "redis" | "nats" | "kafka" | "rabbitmq";

export interface SystemTrigger {
  readonly name: string;
  readonly subscriberUri: string;
  /** Knative DeliverySpec fields, written as given. */
  readonly delivery?: Readonly<Record<string, string | number>>;
}

export interface SystemManifests {
  /** The folder `eventail run -f` reads. */
  readonly dir: string;
  readonly namespace: string;
  readonly broker: string;
  /** The ConfigMap data the Broker's spec.config points at. */
  readonly configData: Readonly<Record<string, string>>;
  /** Broker ingress path, e.g. /sys-1a2b3c/default */
  readonly ingressPath: string;
  remove(): void;
}

/**
 * Writes a ConfigMap (picking the durable backing), a Broker that names it in spec.config, and
 * Triggers, as a user would for `eventail run -f`. Each call gets its own namespace, so streams,
 * topics and consumer groups on a shared engine never meet those of another test or run.
 */
export function writeSystemManifests(
  kind: DurableBackingKind,
  settings: Readonly<Record<string, string>>,
  triggers: readonly SystemTrigger[],
): SystemManifests {
  const namespace = `sys-${randomBytes(4).toString("hex")}`;
  const broker = "default";
  const configData = { backing: kind, ...settings };
  const documents = [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: `${kind}-backing`, namespace },
      data: configData,
    },
    {
      apiVersion: "eventing.knative.dev/v1",
      kind: "Broker",
      metadata: { name: broker, namespace },
      spec: { config: { apiVersion: "v1", kind: "ConfigMap", name: `${kind}-backing` } },
    },
    ...triggers.map((trigger) => ({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: trigger.name, namespace },
      spec: {
        broker,
        subscriber: { uri: trigger.subscriberUri },
        ...(trigger.delivery ? { delivery: trigger.delivery } : {}),
      },
    })),
  ];
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-system-"));
  // JSON is YAML, and one document per file keeps the loader's multi-document path out of it.
  documents.forEach((document, index) => {
    writeFileSync(
      path.join(dir, `${index}-${document.kind.toLowerCase()}.json`),
      JSON.stringify(document, null, 2),
    );
  });
  return {
    dir,
    namespace,
    broker,
    configData,
    ingressPath: `/${namespace}/${broker}`,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
