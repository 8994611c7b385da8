import { randomUUID } from "node:crypto";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import { serviceUrl } from "../support/services.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

const KAFKA = serviceUrl("kafka");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A name prefix of its own per test, so its dead-letter topic starts empty. */
function manifests(prefix: string, subscriber: RecordingSink): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: shop
data:
  backing: kafka
  bootstrap.servers: "${KAFKA}"
  name.prefix: ${prefix}
  session.timeout.ms: "3000"
  heartbeat.interval.ms: "1000"
  rebalance.timeout.ms: "10000"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: orders
  namespace: shop
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: durable
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: fails
  namespace: shop
spec:
  broker: orders
  subscriber:
    uri: ${subscriber.url}
  delivery:
    retry: 0
`;
}

async function send(url: string, id: string): Promise<void> {
  const response = await request(`${url}/shop/orders`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": "order.created",
      "content-type": "application/json",
    },
    body: JSON.stringify({ id }),
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

async function list(url: string): Promise<DeadLetterJson[]> {
  const response = await request(`${url}/api/v1/deadletters?namespace=shop&limit=1000`);
  const body = (await response.body.json()) as { items: DeadLetterJson[] };
  expect(response.statusCode).toBe(200);
  return body.items;
}

async function redrive(url: string, body: unknown): Promise<{ redriven: number; failed: number }> {
  const response = await request(`${url}/api/v1/deadletters/redrive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: 120_000,
  });
  expect(response.statusCode).toBe(200);
  return (await response.body.json()) as { redriven: number; failed: number };
}

describe.skipIf(!KAFKA)("the dead-letter store on Kafka", () => {
  it("a scale-out lists one store, a redrive's removals are seen by the other process, and a restart reads what is left", async () => {
    const subscriber = await startSink(() => ({ status: 500 }));
    cleanups.push(() => subscriber.close());
    const yaml = manifests(`dl-${randomUUID().slice(0, 8)}`, subscriber);
    const a = await startWithManifests(yaml);
    let aClosed = false;
    cleanups.push(async () => {
      if (!aClosed) await a.close();
    });
    const b = await startWithManifests(yaml);
    cleanups.push(() => b.close());
    const ids = ["o-1", "o-2", "o-3"];
    for (const id of ids) await send(a.url, id);
    // Whichever process consumed each event, both list all three from the topic.
    for (const process of [a, b]) {
      await eventually(async () => (await list(process.url)).length === 3, 30_000, "entries");
    }
    const entries = await list(b.url);
    expect(entries.map((e) => String(e.event["id"])).sort()).toEqual(ids);
    expect(entries[0]).toMatchObject({ kind: "Trigger", name: "fails", knativeerrorcode: "500" });

    subscriber.respondWith(() => ({ status: 202 }));
    const one = entries.find((e) => e.event["id"] === "o-2")!;
    expect(await redrive(b.url, { namespace: "shop", entryIds: [one.entryId] })).toEqual({
      redriven: 1,
      failed: 0,
    });
    // The removal is a tombstone on the topic: process A's index drops the entry too.
    expect((await list(a.url)).map((e) => String(e.event["id"])).sort()).toEqual(["o-1", "o-3"]);
    // A second redrive of the same entry finds nothing left to deliver.
    expect(await redrive(a.url, { namespace: "shop", entryIds: [one.entryId] })).toEqual({
      redriven: 0,
      failed: 0,
    });

    aClosed = true;
    await a.close();
    const c = await startWithManifests(yaml);
    cleanups.push(() => c.close());
    expect((await list(c.url)).map((e) => String(e.event["id"])).sort()).toEqual(["o-1", "o-3"]);
  }, 90_000);
});
