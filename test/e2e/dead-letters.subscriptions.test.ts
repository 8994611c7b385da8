import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { createEvent } from "../../src/events/event.js";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  type SinkResponse,
  startSink,
  startWithManifests,
  triggerYaml,
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

  it("keeps the event the subscriber got when spec.reply refuses its reply; a redrive asks the subscriber again", async () => {
    const subscriber = await sink(() => REPLY);
    const replies = await sink(() => ({ status: 503 }));
    const running = await start(subscriber, replies);
    await send(running.url, "o-1");
    await eventually(async () => (await list(running.url)).length === 1, 10_000, "the entry");
    const [entry] = await list(running.url);
    // As Knative's channel dispatcher: the original message, with the reply's failure.
    expect(entry).toMatchObject({
      kind: "Subscription",
      name: "fails",
      knativeerrordest: replies.url,
      knativeerrorcode: "503",
      event: { id: "o-1", type: "order.created" },
    });
    expect(entry!.step).toBeUndefined();
    expect(subscriber.requests).toHaveLength(1);
    expect(replies.requests).toHaveLength(2);

    replies.respondWith(() => ({ status: 202 }));
    expect(await redrive(running.url, {})).toEqual({ redriven: 1, failed: 0 });
    expect(subscriber.events.map((e) => e.attributes["id"])).toEqual(["o-1", "o-1"]);
    expect(replies.events.at(-1)?.attributes["id"]).toBe("reply-1");
    expect(replies.requests).toHaveLength(3);
    expect(await list(running.url)).toEqual([]);
  });

  it("an entry an earlier version kept for a failed reply (step reply) is redriven to spec.reply", async () => {
    const subscriber = await sink(() => REPLY);
    const replies = await sink();
    const running = await start(subscriber, replies);
    const reply = createEvent({
      specversion: "1.0",
      id: "reply-1",
      source: "/subscriber",
      type: "order.confirmed",
    });
    // The memory backing has no store of its own: the keeper's ring holds the entry.
    await running.deadLetters.keep({} as Backing, "default", {
      event: reply,
      kind: "Subscription",
      name: "fails",
      knativeerrordest: replies.url,
      knativeerrorcode: "503",
      attempts: 2,
      at: Date.now(),
      step: "reply",
    });
    expect(await redrive(running.url, {})).toEqual({ redriven: 1, failed: 0 });
    expect(subscriber.requests).toHaveLength(0);
    expect(replies.events.map((e) => e.attributes["id"])).toEqual(["reply-1"]);
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

/** A step answering every event with a new one: id done-1, type done. */
const DONE: SinkResponse = {
  status: 200,
  headers: {
    "ce-specversion": "1.0",
    "ce-id": "done-1",
    "ce-source": "/step",
    "ce-type": "done",
    "content-type": "application/json",
  },
  body: '{"done":true}',
};

/** A one-step Sequence, no retries, dead letters to `deadLetterSink`, replying to `reply`. */
async function sequence(
  step: RecordingSink,
  reply: RecordingSink,
  deadLetterSink: string,
  more = "",
) {
  const running = await startWithManifests(`apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: seq, namespace: default}
spec:
  channelTemplate: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}
  steps:
    - uri: "${step.url}"
      delivery: {retry: 0, deadLetterSink: ${deadLetterSink}}
  reply: {uri: "${reply.url}"}
${more}`);
  cleanups.push(() => running.close());
  const response = await request(`${running.url}/flows/default/sequences/seq`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": "orig-1",
      "ce-source": "/test",
      "ce-type": "start",
      "content-type": "application/json",
    },
    body: '{"n":1}',
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
  return running;
}

describe("a Sequence step whose reply cannot be delivered", () => {
  it("dead-letters the event the step got, with knativeerrordest the reply URL (as Knative)", async () => {
    const step = await sink(() => DONE);
    const rejecting = await sink(() => ({ status: 500, body: "no thanks" }));
    const dls = await sink();
    const running = await sequence(step, rejecting, `{uri: "${dls.url}"}`);

    const [letter] = await dls.waitFor(1, 10_000);
    expect(letter!.event?.attributes).toMatchObject({
      id: "orig-1",
      type: "start",
      source: "/test",
      knativeerrordest: rejecting.url,
      knativeerrorcode: "500",
      knativeerrordata: Buffer.from("no thanks").toString("base64"),
    });
    expect(JSON.parse(letter!.event!.data!.toString())).toEqual({ n: 1 });
    expect(rejecting.events.map((e) => e.attributes["id"])).toEqual(["done-1"]);
    expect(step.requests).toHaveLength(1);
    expect(dls.requests).toHaveLength(1);
    // It went to the sink, so the store holds nothing.
    expect(await list(running.url)).toEqual([]);
  });

  it("a fromBroker redrive does not hand the reply destination that event", async () => {
    const step = await sink(() => DONE);
    const rejecting = await sink(() => ({ status: 500 }));
    const watcher = await sink();
    // The dead-letter sink is a Broker that keeps its events; a Trigger shows when one arrived.
    const running = await sequence(
      step,
      rejecting,
      "{ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: dls}}",
      `---
${brokerYaml("dls", "  annotations:\n    eventail.io/retention: PT1H")}${triggerYaml("watch", watcher.url, "", "", "dls")}`,
    );
    const [letter] = await watcher.waitFor(1, 10_000);
    expect(letter!.event?.attributes).toMatchObject({
      id: "orig-1",
      knativeerrordest: rejecting.url,
    });

    rejecting.respondWith(() => ({ status: 202 }));
    const response = await request(`${running.url}/api/v1/deadletters/redrive`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ namespace: "default", fromBroker: "default/dls" }),
    });
    expect(response.statusCode).toBe(200);
    expect(await response.body.json()).toEqual({ redriven: 0, failed: 1 });
    expect(rejecting.requests).toHaveLength(1);
    expect(step.requests).toHaveLength(1);
  });
});
