import { request } from "undici";
import { describe, expect, it } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import { brokerYaml, closedAfterEach, eventually } from "../support/sink.js";

/**
 * Which delivery applies when a manifest leaves it out, as in Knative: a Trigger takes its
 * Broker's, and with neither the Broker default (config-br-defaults: retry 10, exponential,
 * PT0.2S); a Subscription takes its Channel's, and with neither makes one attempt; a delivery
 * that leaves `retry` unset makes no retries (kncloudevents keeps RetryMax 0).
 */
const { sink, eventail } = closedAfterEach();

async function post(url: string, id: string): Promise<void> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/defaults-test",
      "ce-type": "dev.example.order",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

async function deadLetters(url: string): Promise<DeadLetterJson[]> {
  const response = await request(`${url}/api/v1/deadletters?namespace=default`);
  expect(response.statusCode).toBe(200);
  return ((await response.body.json()) as { items: DeadLetterJson[] }).items;
}

const channel = (delivery = "") => `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders, namespace: default}
${delivery ? `spec:\n  delivery: ${delivery}\n` : ""}`;

const subscription = (subscriber: string, delivery = "") => `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: s, namespace: default}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${subscriber}"}
${delivery ? `  delivery: ${delivery}\n` : ""}`;

const trigger = (subscriber: string, delivery = "") => `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t, namespace: default}
spec:
  broker: default
  subscriber: {uri: "${subscriber}"}
${delivery ? `  delivery: ${delivery}\n` : ""}`;

describe("delivery defaults", () => {
  it("a Subscription with no delivery on a Channel with none makes one attempt", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const running = await eventail(channel() + subscription(subscriber.url));
    await post(`${running.url}/channels/default/orders`, "c1");
    let kept: DeadLetterJson[] = [];
    await eventually(
      async () => {
        kept = await deadLetters(running.url);
        return kept.length > 0;
      },
      10_000,
      "the failed event in the dead-letter store",
    );
    expect(subscriber.requests).toHaveLength(1);
    expect(kept.map((entry) => [entry.name, entry.event["id"], entry.attempts])).toEqual([
      ["s", "c1", 1],
    ]);
  });

  it("a Subscription with no delivery takes its Channel's", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const dls = await sink();
    const running = await eventail(
      channel(
        `{retry: 2, backoffPolicy: linear, backoffDelay: PT0.01S, deadLetterSink: {uri: "${dls.url}"}}`,
      ) + subscription(subscriber.url),
    );
    await post(`${running.url}/channels/default/orders`, "c2");
    await dls.waitFor(1);
    expect(subscriber.requests).toHaveLength(3);
  });

  it("a Trigger whose delivery leaves retry unset makes one attempt, then dead-letters", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const dls = await sink();
    const running = await eventail(
      brokerYaml() + trigger(subscriber.url, `{deadLetterSink: {uri: "${dls.url}"}}`),
    );
    await post(`${running.url}/default/default`, "t1");
    const [letter] = await dls.waitFor(1);
    expect(subscriber.requests).toHaveLength(1);
    expect(letter!.event!.attributes["knativeerrorcode"]).toBe("500");
  });

  it("a Broker's delivery that leaves retry unset makes one attempt for its Triggers", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const dls = await sink();
    const running = await eventail(
      brokerYaml("default", `spec:\n  delivery: {deadLetterSink: {uri: "${dls.url}"}}`) +
        trigger(subscriber.url),
    );
    await post(`${running.url}/default/default`, "t2");
    await dls.waitFor(1);
    expect(subscriber.requests).toHaveLength(1);
  });

  it("a Trigger with no delivery on a Broker with none keeps the Broker default's retries", async () => {
    // Two failures, then success: the default's exponential backoff waits 0.2 s, then 0.4 s.
    const subscriber = await sink((_request, index) => ({ status: index < 2 ? 500 : 202 }));
    const running = await eventail(brokerYaml() + trigger(subscriber.url));
    await post(`${running.url}/default/default`, "t3");
    await subscriber.waitFor(3);
    expect(subscriber.requests.map((r) => r.event?.attributes["id"])).toEqual(["t3", "t3", "t3"]);
  });
});
