import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  brokerYaml,
  eventually,
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
