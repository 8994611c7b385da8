import { writeFileSync } from "node:fs";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { createEvent } from "../../src/events/event.js";
import { encodeHttpRequest } from "../../src/events/http-binding.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const RATE = 20;
const EVENTS = 300;

describe("eventail.io/delivery.rate on a Trigger", () => {
  it(`delivers at most ${RATE} per second to its subscriber (within 10% over 10 s) and holds no other trigger back`, async () => {
    const paced = await startSink();
    const free = await startSink();
    cleanups.push(
      () => paced.close(),
      () => free.close(),
    );
    const running = await startWithManifests(
      brokerYaml() +
        triggerYaml("paced", paced.url, "", "", "default", {
          "eventail.io/delivery.rate": String(RATE),
        }) +
        triggerYaml("free", free.url),
    );
    cleanups.push(() => running.close());

    const batch = (from: number) =>
      JSON.stringify(
        Array.from({ length: 50 }, (_, i) => ({
          specversion: "1.0",
          id: `e${from + i}`,
          source: "/test",
          type: "dev.example.paced",
        })),
      );
    for (let from = 0; from < EVENTS; from += 50) {
      const response = await request(`${running.url}/default/default`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: batch(from),
      });
      expect(response.statusCode).toBe(202);
      await response.body.dump();
    }

    await eventually(
      () => free.requests.length === EVENTS,
      20_000,
      "every event at the free trigger",
    );
    // The other trigger had everything while the paced one was still at a fraction of it.
    expect(paced.requests.length).toBeLessThan(EVENTS / 2);

    await eventually(() => paced.requests.length > 0, 5_000, "the first paced delivery");
    const first = paced.requests[0]!.at;
    await eventually(
      () => paced.requests.some((r) => r.at >= first + 10_000),
      30_000,
      "paced deliveries past the 10 s window",
    );
    const inWindow = paced.requests.filter((r) => r.at < first + 10_000).length;
    expect(inWindow).toBeGreaterThanOrEqual(RATE * 10 * 0.9);
    expect(inWindow).toBeLessThanOrEqual(RATE * 10 * 1.1);
  }, 60_000);
});

/** Posts `count` events to `url` as one batch. */
async function postBatch(url: string, count: number): Promise<void> {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/cloudevents-batch+json" },
    body: JSON.stringify(
      Array.from({ length: count }, (_, i) => ({
        specversion: "1.0",
        id: `e${i}`,
        source: "/test",
        type: "dev.example.paced",
      })),
    ),
  });
  expect(response.statusCode).toBe(202);
  await response.body.dump();
}

const SLOW = 5;
const WINDOW_MS = 4_000;

/** Requests that arrived within WINDOW_MS of the first, once one arrived after it. */
async function inWindow(sink: RecordingSink): Promise<number> {
  await eventually(() => sink.requests.length > 0, 5_000, "the first paced delivery");
  const first = sink.requests[0]!.at;
  await eventually(
    () => sink.requests.some((r) => r.at >= first + WINDOW_MS),
    20_000,
    "paced deliveries past the window",
  );
  return sink.requests.filter((r) => r.at < first + WINDOW_MS).length;
}

describe("eventail.io/delivery.rate across a reload", () => {
  it(`a reconcile that leaves the rate alone keeps the pace: ${SLOW}/s stays ${SLOW}/s, not twice that`, async () => {
    const paced = await startSink();
    cleanups.push(() => paced.close());
    const yaml =
      brokerYaml() +
      triggerYaml("paced", paced.url, "", "", "default", {
        "eventail.io/delivery.rate": String(SLOW),
      });
    const running = await startWithManifests(yaml);
    cleanups.push(() => running.close());
    // 64 deliveries start at once and reserve slots 1/rate apart, 12.8 s of them.
    await postBatch(`${running.url}/default/default`, 100);
    await eventually(() => paced.requests.length >= 3, 5_000, "the first paced deliveries");
    // An unrelated change: every trigger is reconciled again, this one as it was.
    writeFileSync(running.file, `${yaml}---\n${brokerYaml("other")}`);
    expect(await running.reload()).toEqual([]);
    // One pace: about 20 in 4 s. A fresh pace beside the old one's reserved slots doubles the
    // rate from the reload on: about 35.
    expect(await inWindow(paced)).toBeLessThanOrEqual(SLOW * (WINDOW_MS / 1000) + 6);
  }, 40_000);
});

describe("eventail.io/delivery.rate on a Subscription with spec.reply", () => {
  it(`paces the subscriber only: its replies going on to spec.reply do not take its ${SLOW}/s`, async () => {
    const replies = await startSink();
    const subscriber = await startSink((received) => {
      const reply = createEvent({
        specversion: "1.0",
        id: `reply-${received.event?.attributes["id"]}`,
        source: "/subscriber",
        type: "dev.example.reply",
      });
      const encoded = encodeHttpRequest(reply, "binary");
      return { status: 200, headers: encoded.headers, body: encoded.body ?? Buffer.alloc(0) };
    });
    cleanups.push(
      () => replies.close(),
      () => subscriber.close(),
    );
    const running = await startWithManifests(`apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: ch, namespace: default}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata:
  name: paced
  namespace: default
  annotations:
    eventail.io/delivery.rate: "${SLOW}"
    eventail.io/delivery.concurrency: "1"
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: ch}
  subscriber: {uri: "${subscriber.url}"}
  reply: {uri: "${replies.url}"}
`);
    cleanups.push(() => running.close());
    await postBatch(`${running.url}/channels/default/ch`, 60);
    // One at a time: about 20 in 4 s. Were each reply paced too, the subscriber would get half.
    const count = await inWindow(subscriber);
    expect(count).toBeGreaterThanOrEqual(15);
    expect(count).toBeLessThanOrEqual(SLOW * (WINDOW_MS / 1000) + 6);
    await eventually(() => replies.requests.length >= count - 1, 5_000, "the replies");
  }, 40_000);
});
