import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { brokerYaml, eventually, startWithManifests, triggerYaml } from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A subscriber that holds every request until released. */
async function gatedSubscriber() {
  const held: http.ServerResponse[] = [];
  let open = false;
  const received: string[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received.push(String(req.headers["ce-id"]));
      if (open) res.writeHead(202).end();
      else held.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const res of held.splice(0)) res.writeHead(202).end();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    release() {
      open = true;
      for (const res of held.splice(0)) res.writeHead(202).end();
    },
  };
}

async function send(url: string, id: string) {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": "dev.example.capped",
      "content-type": "application/json",
    },
    body: "{}",
  });
  return {
    status: response.statusCode,
    retryAfter: response.headers["retry-after"],
    body: await response.body.text(),
  };
}

describe("memory broker cap (eventail.io/memory.max-events)", () => {
  it("answers 429 with Retry-After past the cap, never grows, and accepts again once delivered", async () => {
    const subscriber = await gatedSubscriber();
    const running = await startWithManifests(
      brokerYaml("capped", '  annotations:\n    eventail.io/memory.max-events: "3"') +
        triggerYaml("slow", subscriber.url, "", "", "capped", {
          "eventail.io/delivery.concurrency": "1",
        }),
    );
    cleanups.push(() => running.close());
    const ingress = `${running.url}/default/capped`;

    expect((await send(ingress, "e0")).status).toBe(202);
    // e0 is at the subscriber (taken, in flight): the broker's stream holds nothing now.
    await eventually(() => subscriber.received.length === 1, 10_000, "e0 at the subscriber");
    for (const id of ["e1", "e2", "e3"]) expect((await send(ingress, id)).status).toBe(202);
    const refused = await send(ingress, "e4");
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe("1");
    expect(JSON.parse(refused.body)).toEqual({
      code: "OVER_CAPACITY",
      error: "broker.default.capped holds 3 undelivered events, its limit is 3; retry later",
    });

    // The refused event's acceptance is withdrawn from the journey ring; an accepted one stays.
    const journey = async (id: string) => {
      const response = await request(`${running.url}/api/v1/events/default/${id}`);
      await response.body.dump();
      return response.statusCode;
    };
    expect(await journey("e4")).toBe(404);
    expect(await journey("e3")).toBe(200);

    subscriber.release();
    await eventually(() => subscriber.received.length === 4, 10_000, "e1..e3 delivered");
    expect((await send(ingress, "e4")).status).toBe(202);
    await eventually(() => subscriber.received.length === 5, 10_000, "e4 delivered");
    expect(subscriber.received).toEqual(["e0", "e1", "e2", "e3", "e4"]);
  });
});
