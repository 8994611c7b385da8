import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { JourneyJson } from "../../src/operations/journey-json.js";
import { serviceUrl } from "../support/services.js";
import { eventually, startSink, startWithManifests } from "../support/sink.js";

/** Journeys of events sent to a Channel: one route per Subscription, of kind "Subscription". */
const CHANNELS: Array<[string, string, "memory" | "redis"]> = [
  ["InMemoryChannel", "messaging.knative.dev/v1", "memory"],
  ["RedisStreamChannel", "eventail.io/v1alpha1", "redis"],
];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function journey(base: string, id: string) {
  const response = await request(`${base}/api/v1/events/default/${id}`);
  return { status: response.statusCode, body: (await response.body.json()) as JourneyJson };
}

describe.each(CHANNELS)("journeys on a %s", (kind, apiVersion, service) => {
  const available = service === "memory" || serviceUrl(service) !== undefined;

  it.skipIf(!available)(
    "show each subscription's outcome: delivered, and dead-lettered after its attempts",
    async () => {
      const good = await startSink();
      const failing = await startSink(() => ({ status: 500 }));
      const dls = await startSink();
      cleanups.push(
        () => good.close(),
        () => failing.close(),
        () => dls.close(),
      );
      const channel = `journeys-${randomUUID().slice(0, 8)}`;
      const running = await startWithManifests(`apiVersion: ${apiVersion}
kind: ${kind}
metadata: {name: ${channel}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: good}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${channel}}
  subscriber: {uri: ${good.url}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: failing}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${channel}}
  subscriber: {uri: ${failing.url}}
  delivery:
    retry: 1
    backoffDelay: PT0.05S
    deadLetterSink: {uri: ${dls.url}}
`);
      cleanups.push(() => running.close());
      const id = randomUUID();
      const response = await request(`${running.url}/channels/default/${channel}`, {
        method: "POST",
        headers: {
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/orders",
          "ce-type": "order.created",
          "content-type": "application/json",
        },
        body: "{}",
      });
      await response.body.dump();
      expect(response.statusCode).toBe(202);
      const settled = async () => {
        const answer = await journey(running.url, id);
        return (
          answer.status === 200 &&
          answer.body.routes.length === 2 &&
          answer.body.routes.every((r) => r.outcome !== "pending")
        );
      };
      await eventually(settled, 20_000, "both subscriptions' outcomes");
      const { body } = await journey(running.url, id);
      expect(body.accepted.address).toMatch(new RegExp(`/channels/default/${channel}$`));
      const byName = Object.fromEntries(body.routes.map((r) => [r.name, r]));
      expect(byName["good"]).toMatchObject({
        kind: "Subscription",
        outcome: "delivered",
        attempts: [{ status: 202 }],
      });
      expect(byName["failing"]).toMatchObject({
        kind: "Subscription",
        outcome: "dead-lettered",
        attempts: [{ status: 500 }, { status: 500 }],
      });
    },
    40_000,
  );

  it.skipIf(!available)(
    "show a subscription whose reply spec.reply refuses as dead-lettered, with the reply's attempts",
    async () => {
      const replyId = randomUUID();
      const subscriber = await startSink(() => ({
        status: 200,
        headers: {
          "ce-specversion": "1.0",
          "ce-id": replyId,
          "ce-source": "/subscriber",
          "ce-type": "order.confirmed",
          "content-type": "application/json",
        },
        body: '{"ok":true}',
      }));
      const reply = await startSink(() => ({ status: 500 }));
      const dls = await startSink();
      cleanups.push(
        () => subscriber.close(),
        () => reply.close(),
        () => dls.close(),
      );
      const channel = `journeys-${randomUUID().slice(0, 8)}`;
      const running = await startWithManifests(`apiVersion: ${apiVersion}
kind: ${kind}
metadata: {name: ${channel}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: refused}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${channel}}
  subscriber: {uri: ${subscriber.url}}
  reply: {uri: ${reply.url}}
  delivery:
    retry: 1
    backoffDelay: PT0.05S
    deadLetterSink: {uri: ${dls.url}}
`);
      cleanups.push(() => running.close());
      const id = randomUUID();
      const response = await request(`${running.url}/channels/default/${channel}`, {
        method: "POST",
        headers: {
          "ce-specversion": "1.0",
          "ce-id": id,
          "ce-source": "/orders",
          "ce-type": "order.created",
          "content-type": "application/json",
        },
        body: "{}",
      });
      await response.body.dump();
      expect(response.statusCode).toBe(202);
      // The dead letter is the original event (Knative's channel dispatcher): once the sink has
      // it, the route has ended, and the journey must say how.
      await eventually(() => dls.requests.length > 0, 20_000, "the dead letter");
      expect(dls.requests[0]!.headers["ce-id"]).toBe(id);
      await eventually(
        async () => {
          const answer = await journey(running.url, id);
          return answer.status === 200 && answer.body.routes[0]?.outcome === "dead-lettered";
        },
        20_000,
        "the route dead-lettered",
      );
      const { body } = await journey(running.url, id);
      expect(body.routes).toHaveLength(1);
      expect(body.routes[0]).toMatchObject({
        kind: "Subscription",
        name: "refused",
        outcome: "dead-lettered",
        sink: dls.url,
        replyId,
        // The subscriber's answer, then the reply's two attempts at spec.reply.
        attempts: [{ status: 200 }, { status: 500 }, { status: 500 }],
      });
      expect(body.routes[0]!.reason).toContain(reply.url);
    },
    40_000,
  );
});

describe("a Subscription's route when a reload takes spec.reply away mid-delivery", () => {
  it("still ends replied (the reply is dropped, the route is reported)", async () => {
    // A subscriber that holds its answer until the test lets it reply.
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = 0;
    const subscriber = http.createServer((req, res) => {
      asked++;
      req.resume();
      void released.then(() => {
        res.writeHead(200, {
          "ce-specversion": "1.0",
          "ce-id": "the-reply",
          "ce-source": "/subscriber",
          "ce-type": "order.answered",
        });
        res.end();
      });
    });
    await new Promise<void>((resolve) => subscriber.listen(0, "127.0.0.1", resolve));
    const replyTo = await startSink();
    cleanups.push(
      () => new Promise<void>((resolve) => subscriber.close(() => resolve())),
      () => replyTo.close(),
    );
    const subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}`;
    const manifests = (reply: string) => `apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: answers}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: ${subscriberUrl}}
${reply}`;
    const running = await startWithManifests(manifests(`  reply: {uri: ${replyTo.url}}\n`));
    cleanups.push(() => running.close());
    const id = randomUUID();
    const response = await request(`${running.url}/channels/default/orders`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": id,
        "ce-source": "/orders",
        "ce-type": "order.created",
      },
    });
    await response.body.dump();
    expect(response.statusCode).toBe(202);
    await eventually(() => asked === 1, 20_000, "the subscriber asked");
    writeFileSync(running.file, manifests(""));
    expect(await running.reload()).toEqual([]);
    release();
    await eventually(
      async () => {
        const answer = await journey(running.url, id);
        return answer.status === 200 && answer.body.routes[0]?.outcome === "replied";
      },
      20_000,
      "the route replied",
    );
    const { body } = await journey(running.url, id);
    expect(body.routes[0]).toMatchObject({
      kind: "Subscription",
      name: "answers",
      replyId: "the-reply",
      attempts: [{ status: 200 }],
    });
    expect(replyTo.requests).toHaveLength(0);
  }, 40_000);
});
