/**
 * What the dead-letter tests on each durable engine share: a broker on the engine with one
 * trigger `fails`, an order posted to it, and the operations API's list and redrive.
 */
import { request } from "undici";
import { expect } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";

/**
 * A ConfigMap `durable` whose data is `backingData` (YAML lines, indented two spaces), the Broker
 * `orders` on it, and the Trigger `fails` to `subscriberUrl` with `delivery` (YAML lines, indented
 * four spaces), all in namespace `ns`.
 */
export function deadLetterManifests(
  ns: string,
  backingData: string,
  subscriberUrl: string,
  delivery: string,
): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: ${ns}
data:
${backingData}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: orders
  namespace: ${ns}
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
  namespace: ${ns}
spec:
  broker: orders
  subscriber:
    uri: ${subscriberUrl}
  delivery:
${delivery}
`;
}

/** Posts an `order.created` event to broker `orders` of `ns`; it must be accepted (202). */
export async function sendOrder(
  url: string,
  ns: string,
  id: string,
  data: Buffer,
  contentType: string,
): Promise<void> {
  const response = await request(`${url}/${ns}/orders`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": "order.created",
      "content-type": contentType,
    },
    body: data,
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

export async function listDeadLetters(url: string, ns: string): Promise<DeadLetterJson[]> {
  const response = await request(`${url}/api/v1/deadletters?namespace=${ns}&limit=100000`);
  const body = (await response.body.json()) as { items: DeadLetterJson[] };
  expect(response.statusCode).toBe(200);
  return body.items;
}

export async function redriveDeadLetters(
  url: string,
  body: unknown,
): Promise<{ redriven: number; failed: number }> {
  const response = await request(`${url}/api/v1/deadletters/redrive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: 120_000,
  });
  expect(response.statusCode).toBe(200);
  return (await response.body.json()) as { redriven: number; failed: number };
}
