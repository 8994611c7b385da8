import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import {
  eventually,
  type RecordingSink,
  type SinkResponse,
  startSink,
  startWithManifests,
} from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(respond: () => SinkResponse = () => ({ status: 202 })) {
  const started = await startSink(respond);
  cleanups.push(() => started.close());
  return started;
}

/** A memory channel whose one subscription gives up after two attempts, replying to `reply`. */
async function start(subscriber: RecordingSink, reply: RecordingSink) {
  const running = await startWithManifests(`apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders, namespace: default}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: fails, namespace: default}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: "${subscriber.url}"}
  reply: {uri: "${reply.url}"}
  delivery: {retry: 1, backoffPolicy: linear, backoffDelay: PT0.01S}
`);
  cleanups.push(() => running.close());
  return running;
}

const REPLY: SinkResponse = {
  status: 200,
  headers: {
    "ce-specversion": "1.0",
    "ce-id": "reply-1",
    "ce-source": "/subscriber",
    "ce-type": "order.confirmed",
    "content-type": "application/json",
  },
  body: '{"ok":true}',
};

async function send(url: string, id: string): Promise<void> {
  const response = await request(`${url}/channels/default/orders`, {
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
  const response = await request(`${url}/api/v1/deadletters?namespace=default`);
  expect(response.statusCode).toBe(200);
  return ((await response.body.json()) as { items: DeadLetterJson[] }).items;
}

async function redrive(url: string, body: unknown): Promise<unknown> {
  const response = await request(`${url}/api/v1/deadletters/redrive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ namespace: "default", ...(body as object) }),
  });
  expect(response.statusCode).toBe(200);
  return response.body.json();
}

describe("dead letters of a Subscription on a memory channel", () => {
  it("keeps an event whose attempts ran out; a redrive goes to the subscriber (or `to`) and its reply to spec.reply", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const replies = await sink();
    const elsewhere = await sink();
    const running = await start(subscriber, replies);
    await send(running.url, "o-1");
    await send(running.url, "o-2");
    await eventually(async () => (await list(running.url)).length === 2, 10_000, "two entries");
    const entries = await list(running.url);
    expect(entries[0]).toMatchObject({
      kind: "Subscription",
      name: "fails",
      attempts: 2,
      knativeerrordest: subscriber.url,
      knativeerrorcode: "500",
      event: { id: "o-1" },
    });
    expect(entries[0]!.step).toBeUndefined();
    expect(subscriber.requests).toHaveLength(4);

    subscriber.respondWith(() => REPLY);
    const [first, second] = entries;
    expect(
      await redrive(running.url, { entryIds: [first!.entryId], to: { uri: elsewhere.url } }),
    ).toEqual({ redriven: 1, failed: 0 });
    expect(elsewhere.events.map((e) => e.attributes["id"])).toEqual(["o-1"]);
    expect(subscriber.requests).toHaveLength(4);

    expect(await redrive(running.url, { entryIds: [second!.entryId] })).toEqual({
      redriven: 1,
      failed: 0,
    });
    expect(subscriber.events.at(-1)?.attributes["id"]).toBe("o-2");
    // The subscriber's answer to the redrive went on to the subscription's reply.
    expect(replies.events.map((e) => e.attributes["id"])).toEqual(["reply-1"]);
    expect(await list(running.url)).toEqual([]);
  });

  it("keeps a reply that spec.reply refused, and a redrive sends it there, not to the subscriber", async () => {
    const subscriber = await sink(() => REPLY);
    const replies = await sink(() => ({ status: 503 }));
    const running = await start(subscriber, replies);
    await send(running.url, "o-1");
    await eventually(async () => (await list(running.url)).length === 1, 10_000, "the entry");
    const [entry] = await list(running.url);
    expect(entry).toMatchObject({
      kind: "Subscription",
      name: "fails",
      step: "reply",
      knativeerrordest: replies.url,
      knativeerrorcode: "503",
      event: { id: "reply-1", type: "order.confirmed" },
    });

    replies.respondWith(() => ({ status: 202 }));
    expect(await redrive(running.url, {})).toEqual({ redriven: 1, failed: 0 });
    expect(subscriber.requests).toHaveLength(1);
    expect(replies.events.at(-1)?.attributes["id"]).toBe("reply-1");
    expect(await list(running.url)).toEqual([]);
  });

  it("a redrive that fails again leaves the entry", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const running = await start(subscriber, await sink());
    await send(running.url, "o-1");
    await eventually(async () => (await list(running.url)).length === 1, 10_000, "the entry");
    expect(await redrive(running.url, {})).toEqual({ redriven: 0, failed: 1 });
    expect(await list(running.url)).toHaveLength(1);
  });
});
