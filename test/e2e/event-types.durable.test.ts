import { randomUUID } from "node:crypto";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { serviceUrl } from "../support/services.js";
import { startWithManifests } from "../support/sink.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

interface View {
  metadata: { annotations: Record<string, string> };
  spec: { type: string; source: string; schemaData?: string; reference: { name: string } };
}

const running: Running[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.close()));
});

type Durable = "redis" | "nats" | "kafka" | "rabbitmq";
const DURABLE: readonly Durable[] = ["redis", "nats", "kafka", "rabbitmq"];

/** The broker config's data: the engine, and for Kafka a topic prefix of its own and quick groups. */
function connection(backing: Durable, url: string, namespace: string): string {
  if (backing !== "kafka") return `  backing: ${backing}\n  url: ${url}`;
  return [
    "  backing: kafka",
    `  bootstrap.servers: "${url}"`,
    `  name.prefix: ${namespace}`,
    '  session.timeout.ms: "3000"',
    '  heartbeat.interval.ms: "1000"',
    '  rebalance.timeout.ms: "10000"',
  ].join("\n");
}

/** A namespace of its own per run, so entries left on the engine by earlier runs do not count. */
function manifests(backing: Durable, url: string, namespace: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
  eventtype-auto-create: enabled
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: ${namespace}
data:
${connection(backing, url, namespace)}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: orders
  namespace: ${namespace}
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: durable
`;
}

async function send(eventail: Running, namespace: string, id: string, data: unknown) {
  const response = await request(`${eventail.url}/${namespace}/orders`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/shop",
      "ce-type": "com.example.order",
      "content-type": "application/json",
    },
    body: JSON.stringify(data),
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

async function list(eventail: Running, namespace: string): Promise<View[]> {
  const response = await request(`${eventail.url}/api/v1/eventtypes?namespace=${namespace}`);
  return ((await response.body.json()) as { items: View[] }).items;
}

for (const backing of DURABLE) {
  const url = serviceUrl(backing);
  describe.skipIf(!url)(`auto-created EventTypes on ${backing} are shared by every process`, () => {
    it("counts from two processes add up, schemas merge, and a process started later sees them", async () => {
      const namespace = `et-${randomUUID().slice(0, 8)}`;
      const yaml = manifests(backing, url!, namespace);
      const a = await startWithManifests(yaml);
      running.push(a);
      const b = await startWithManifests(yaml);
      running.push(b);
      for (let i = 0; i < 3; i++)
        await send(a, namespace, `a${i}`, { id: `a${i}`, total: i, gift: true });
      for (let i = 0; i < 2; i++) await send(b, namespace, `b${i}`, { id: `b${i}`, total: 1.5 });
      // Listing flushes this process's counts; the other's flush by its timer or its close.
      await b.eventTypes.flush();
      const seen = await list(a, namespace);
      expect(seen).toHaveLength(1);
      const entry = seen[0]!;
      expect(entry.spec).toMatchObject({ type: "com.example.order", source: "/shop" });
      expect(entry.spec.reference.name).toBe("orders");
      expect(entry.metadata.annotations["eventail.io/count"]).toBe("5");
      const schema = JSON.parse(entry.spec.schemaData!);
      expect(schema.required).toEqual(["id", "total"]);
      expect(schema.properties.total.type).toBe("number");
      expect(schema.properties.gift.type).toBe("boolean");

      await Promise.all(running.splice(0).map((r) => r.close()));
      const c = await startWithManifests(yaml);
      running.push(c);
      await send(c, namespace, "c0", { id: "c0", total: 2 });
      const after = await list(c, namespace);
      expect(after.map((v) => v.metadata.annotations["eventail.io/count"])).toEqual(["6"]);
      expect(Date.parse(after[0]!.metadata.annotations["eventail.io/first-seen"]!)).toBeLessThan(
        Date.parse(after[0]!.metadata.annotations["eventail.io/last-seen"]!),
      );
    }, 60_000);
  });
}

for (const backing of DURABLE) {
  const url = serviceUrl(backing);
  describe.skipIf(!url)(`a closing process on ${backing}`, () => {
    it("writes its last counts to the engine before the backing closes", async () => {
      const namespace = `et-${randomUUID().slice(0, 8)}`;
      const yaml = manifests(backing, url!, namespace);
      const a = await startWithManifests(yaml);
      running.push(a);
      await list(a, namespace); // the registry's store is open before the events come
      for (let i = 0; i < 2; i++) await send(a, namespace, `a${i}`, { id: `a${i}` });
      // Closed at once, before the registry's one-second timer: only the close writes them.
      await Promise.all(running.splice(0).map((r) => r.close()));
      const b = await startWithManifests(yaml);
      running.push(b);
      const seen = await list(b, namespace);
      expect(seen.map((v) => v.metadata.annotations["eventail.io/count"])).toEqual(["2"]);
    }, 60_000);
  });
}

for (const backing of DURABLE) {
  const url = serviceUrl(backing);
  describe.skipIf(!url)(`the ${backing} EventType store under concurrent writers`, () => {
    it("loses no count and no schema when processes flush the same entry at once", async () => {
      const { createBacking } = await import("../../src/backing/registry.js");
      const { silentLogger } = await import("../../src/observability/logger.js");
      const { mergeSchemas, inferSchema } = await import("../../src/operations/schema-infer.js");
      const namespace = `et-${randomUUID().slice(0, 8)}`;
      const settings: Record<string, string> =
        backing === "kafka"
          ? {
              "bootstrap.servers": url!,
              "name.prefix": namespace,
              "session.timeout.ms": "3000",
              "heartbeat.interval.ms": "1000",
              "rebalance.timeout.ms": "10000",
            }
          : { url: url! };
      const config = { kind: backing, settings };
      const engines = await Promise.all(
        [0, 1].map(() => createBacking(config, { logger: silentLogger() })),
      );
      try {
        const merge = (x: unknown, y: unknown) => mergeSchemas(x as never, y as never);
        const writes = Array.from({ length: 16 }, (_, i) =>
          engines[i % 2]!.eventTypes!.add(
            [
              {
                namespace,
                broker: "b",
                type: "t",
                source: "s",
                count: 1,
                firstSeen: 1000 + i,
                lastSeen: 2000 + i,
                schema: inferSchema({ always: i, [`only${i}`]: true }),
              },
            ],
            merge,
          ),
        );
        const outcomes = await Promise.allSettled(writes);
        // A write that lost every compare-and-set rejects (the registry keeps its batch for the
        // next flush): whatever was written must add up to exactly the writes that resolved.
        const ok = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
        expect(ok.length).toBeGreaterThan(0);
        const written = ok.length;
        const [entry] = await engines[0]!.eventTypes!.list(namespace);
        expect(entry).toMatchObject({
          count: written,
          firstSeen: 1000 + Math.min(...ok),
          lastSeen: 2000 + Math.max(...ok),
        });
        const schema = entry!.schema as { required: string[]; properties: Record<string, unknown> };
        expect(schema.required).toEqual(["always"]);
        const only = Object.keys(schema.properties).filter((k) => k.startsWith("only"));
        expect(only.length).toBe(written);
      } finally {
        await Promise.all(engines.map((e) => e.close()));
      }
    }, 60_000);
  });
}
