import http from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify from "fastify";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type SseMessage, SseParser } from "../../src/cli/sse-parser.js";
import { TailBus } from "../../src/operations/tail-bus.js";
import { API_AUDIENCE } from "../../src/security/api-guard.js";
import { tailRoutes } from "../../src/server/api-tail.js";
import { tempDir } from "../security/support.js";
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

async function sink(responder?: Parameters<typeof startSink>[0]): Promise<RecordingSink> {
  const s = await startSink(responder);
  cleanups.push(() => s.close());
  return s;
}

async function eventail(yaml: string, options: Parameters<typeof startWithManifests>[1] = {}) {
  const running = await startWithManifests(yaml, options);
  cleanups.push(() => running.close());
  return running;
}

/** A tail read over a real socket with node's HTTP client, which stops reading when paused. */
class TailClient {
  readonly messages: SseMessage[] = [];
  raw = "";
  private readonly parser = new SseParser();

  private constructor(readonly response: http.IncomingMessage) {}

  static open(base: string, query = "", paused = false): Promise<TailClient> {
    return new Promise((resolve, reject) => {
      const req = http.get(`${base}/api/v1/tail${query}`, (response) => {
        const client = new TailClient(response);
        cleanups.push(async () => void response.destroy());
        if (!paused) client.read();
        resolve(client);
      });
      req.on("error", reject);
    });
  }

  read(): void {
    this.response.setEncoding("utf8");
    this.response.on("data", (chunk: string) => {
      this.raw += chunk;
      this.messages.push(...this.parser.push(chunk));
    });
  }

  of(event: string): Record<string, unknown>[] {
    return this.messages
      .filter((m) => m.event === event)
      .map((m) => JSON.parse(m.data) as Record<string, unknown>);
  }
}

async function post(url: string, id: string, type: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/tail-test",
      "ce-type": type,
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  return response.statusCode;
}

const ORDERED = { "eventail.io/delivery.order": "ordered" };

describe("GET /api/v1/tail: what a reader sees", () => {
  // Two brokers; every trigger is ordered, so the outcome of an event on a trigger is published
  // before the outcome of any event sent after it: once the last events' outcomes are seen,
  // everything the reader was going to get has arrived.
  const sent = [
    { id: "a1", type: "dev.wanted", broker: "default" },
    { id: "b1", type: "dev.unwanted", broker: "default" },
    { id: "c1", type: "dev.wanted", broker: "second" },
    { id: "d1", type: "dev.unwanted", broker: "second" },
    { id: "last-default", type: "dev.wanted", broker: "default" },
    { id: "last-second", type: "dev.wanted", broker: "second" },
  ];
  type Sent = (typeof sent)[number];
  const triggers = [
    {
      name: "t-all",
      broker: "default",
      wants: () => true,
      ends: "delivered",
      status: 202,
      attempt: 1,
    },
    {
      name: "t-wanted",
      broker: "default",
      wants: (e: Sent) => e.type === "dev.wanted",
      ends: "delivered",
      status: 202,
      attempt: 1,
    },
    // retry 1: two attempts answered 500, then the dead-letter sink takes it.
    {
      name: "t-failing",
      broker: "second",
      wants: () => true,
      ends: "dead-lettered",
      status: 500,
      attempt: 2,
    },
  ];

  it.each([
    {
      name: "a CESQL filter passes only the events it matches, and only their outcomes",
      query: `?filter=${encodeURIComponent("type = 'dev.wanted'")}`,
      keep: (e: Sent) => e.type === "dev.wanted",
    },
    {
      name: "broker= keeps one broker's events and its triggers' outcomes",
      query: "?broker=second",
      keep: (e: Sent) => e.broker === "second",
    },
    {
      name: "namespace= with nothing else shows every event and every delivery's outcome",
      query: "?namespace=default",
      keep: () => true,
    },
    {
      name: "filter and broker together must both match",
      query: `?broker=default&filter=${encodeURIComponent("type LIKE '%unwanted' OR id = 'last-default'")}`,
      keep: (e: Sent) =>
        e.broker === "default" && (e.type === "dev.unwanted" || e.id === "last-default"),
    },
  ])("$name", async ({ query, keep }) => {
    const ok = await sink();
    const failing = await sink(() => ({ status: 500 }));
    const deadLetters = await sink();
    const manifests = [
      brokerYaml("default"),
      `---\n${brokerYaml("second")}`,
      triggerYaml("t-all", ok.url, "", "", "default", ORDERED),
      triggerYaml(
        "t-wanted",
        ok.url,
        "  filter:\n    attributes:\n      type: dev.wanted",
        "",
        "default",
        ORDERED,
      ),
      triggerYaml(
        "t-failing",
        failing.url,
        "",
        `  delivery:\n    retry: 1\n    backoffDelay: PT0.01S\n    deadLetterSink:\n      uri: ${deadLetters.url}`,
        "second",
        ORDERED,
      ),
    ].join("\n");
    const running = await eventail(manifests);
    const tail = await TailClient.open(running.url, query);
    await eventually(() => running.tail.connected().length === 1, 10_000, "the reader to connect");

    for (const event of sent) {
      expect(await post(`${running.url}/default/${event.broker}`, event.id, event.type)).toBe(202);
    }

    const kept = sent.filter(keep);
    const expected = kept.flatMap((event) =>
      triggers
        .filter((t) => t.broker === event.broker && t.wants(event))
        .map((t) => ({
          id: event.id,
          kind: "Trigger",
          name: t.name,
          outcome: t.ends,
          status: t.status,
          attempt: t.attempt,
        })),
    );
    const lastOnes = expected.filter((o) => o.id.startsWith("last-"));
    await eventually(
      () =>
        lastOnes.every((o) =>
          tail.of("outcome").some((m) => m["id"] === o.id && m["name"] === o.name),
        ),
      20_000,
      "the last events' outcomes",
    );
    // An event and its outcomes are sent while the reader reads: nothing was lost.
    expect(tail.of("dropped")).toEqual([]);
    expect(tail.of("cloudevent").map((e) => e["id"])).toEqual(kept.map((e) => e.id));
    for (const event of tail.of("cloudevent")) {
      expect(event).toMatchObject({ specversion: "1.0", source: "/tail-test", data: {} });
      expect(event["knativearrivaltime"]).toEqual(expect.any(String));
    }
    const outcomes = tail.of("outcome").map(({ source, ...rest }) => {
      expect(source).toBe("/tail-test");
      return rest;
    });
    const byKey = (o: Record<string, unknown>) => `${o["id"]}/${o["name"]}`;
    expect([...outcomes].sort((x, y) => byKey(x).localeCompare(byKey(y)))).toEqual(
      [...expected].sort((x, y) => byKey(x).localeCompare(byKey(y))),
    );
  });
});

describe("GET /api/v1/tail: a subscription's outcome", () => {
  it("is dead-lettered, not replied, when spec.reply refuses the subscriber's reply", async () => {
    const subscriber = await sink(() => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "answer-1",
        "ce-source": "/subscriber",
        "ce-type": "dev.answer",
      },
    }));
    const reply = await sink(() => ({ status: 500 }));
    const deadLetters = await sink();
    const running = await eventail(`apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: orders}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: refused}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: orders}
  subscriber: {uri: ${subscriber.url}}
  reply: {uri: ${reply.url}}
  delivery: {retry: 1, backoffDelay: PT0.01S, deadLetterSink: {uri: ${deadLetters.url}}}
`);
    const tail = await TailClient.open(running.url);
    await eventually(() => running.tail.connected().length === 1, 10_000, "the reader to connect");
    expect(await post(`${running.url}/channels/default/orders`, "q1", "dev.question")).toBe(202);
    await eventually(() => tail.of("outcome").length > 0, 20_000, "the subscription's outcome");
    await eventually(() => deadLetters.requests.length > 0, 20_000, "the dead letter");
    // The subscriber's answer, then spec.reply's two 500s.
    expect(tail.of("outcome")).toEqual([
      {
        id: "q1",
        source: "/tail-test",
        kind: "Subscription",
        name: "refused",
        outcome: "dead-lettered",
        status: 500,
        attempt: 3,
      },
    ]);
  });
});

describe("GET /api/v1/tail: a reader that does not read", () => {
  it("never slows ingress: 50,000 events are all accepted while its queue stays bounded, then it learns how many it lost", async () => {
    const running = await eventail(brokerYaml("default"));
    const tail = await TailClient.open(running.url, "", true);
    await eventually(() => running.tail.connected().length === 1, 10_000, "the reader to connect");
    const [reader] = running.tail.connected();

    const total = 50_000;
    const perBatch = 100;
    // A kilobyte of data each: far more than socket buffers hold, so the reader must fall behind.
    const data = { pad: "x".repeat(1000) };
    const statuses: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const first = next;
        next += perBatch;
        const batch = Array.from({ length: perBatch }, (_, i) => ({
          specversion: "1.0",
          id: `e${first + i}`,
          source: "/flood",
          type: "dev.flood",
          datacontenttype: "application/json",
          data,
        }));
        const response = await request(`${running.url}/default/default`, {
          method: "POST",
          headers: { "content-type": "application/cloudevents-batch+json" },
          body: JSON.stringify(batch),
        });
        await response.body.dump();
        statuses.push(response.statusCode);
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));

    expect(statuses).toHaveLength(total / perBatch);
    expect(statuses.every((status) => status === 202)).toBe(true);
    expect(reader!.highWater).toBeLessThanOrEqual(reader!.capacity);
    expect(reader!.droppedTotal).toBeGreaterThan(0);

    tail.read();
    const seen = () =>
      tail.of("cloudevent").length +
      tail.of("dropped").reduce((sum, m) => sum + (m["count"] as number), 0);
    await eventually(
      () => seen() === total,
      60_000,
      "every event to be shown or counted as dropped",
    );
    expect(tail.of("dropped").length).toBeGreaterThan(0);
    expect(tail.of("dropped").reduce((sum, m) => sum + (m["count"] as number), 0)).toBe(
      reader!.droppedTotal,
    );
    // No event is shown twice.
    const ids = tail.of("cloudevent").map((e) => Number(String(e["id"]).slice(1)));
    expect(new Set(ids).size).toBe(ids.length);
  }, 180_000);

  it("shutting the server down ends a tail whose reader stopped reading", async () => {
    const running = await startWithManifests(brokerYaml("default"));
    const tail = await TailClient.open(running.url, "", true);
    await eventually(() => running.tail.connected().length === 1, 10_000, "the reader to connect");
    for (let i = 0; i < 20; i++) {
      await request(`${running.url}/default/default`, {
        method: "POST",
        headers: { "content-type": "application/cloudevents-batch+json" },
        body: JSON.stringify(
          Array.from({ length: 100 }, (_, j) => ({
            specversion: "1.0",
            id: `${i}-${j}`,
            source: "/s",
            type: "t",
            data: "y".repeat(2000),
          })),
        ),
      }).then((r) => r.body.dump());
    }
    await running.close();
    await new Promise<void>((resolve) => {
      if (tail.response.destroyed || tail.response.readableEnded) resolve();
      tail.response.once("close", resolve);
      tail.response.resume();
    });
    expect(running.tail.connected()).toHaveLength(0);
  });
});

describe("GET /api/v1/tail: the request itself", () => {
  it.each([
    { name: "a missing operand", filter: "type = ", position: "line 1, column 8" },
    { name: "a dangling AND", filter: "type = 'a' AND", position: "line 1, column 15" },
    { name: "an unclosed parenthesis", filter: "(type = 'a'", position: "line 1, column 12" },
    {
      name: "an error on the second line",
      filter: "type = 'a'\nAND )",
      position: "line 2, column 5",
    },
  ])(
    "a bad filter ($name) is a 400 naming the position, before any stream",
    async ({ filter, position }) => {
      const running = await eventail(brokerYaml("default"));
      const response = await request(
        `${running.url}/api/v1/tail?filter=${encodeURIComponent(filter)}`,
      );
      expect(response.statusCode).toBe(400);
      expect(response.headers["content-type"]).toMatch(/^application\/json/);
      const body = (await response.body.json()) as { error: string; code: string };
      expect(body.code).toBe("INVALID_FILTER");
      expect(body.error).toContain(`filter: ${position}`);
      expect(running.tail.connected()).toHaveLength(0);
    },
  );

  it("a tail outlives the body timeout that cuts slow requests", async () => {
    const running = await eventail(brokerYaml("default"), {
      limits: { headerTimeoutMs: 200, bodyTimeoutMs: 300 },
    });
    const tail = await TailClient.open(running.url);
    // Several times the body timeout, with Node's checks of it running every few milliseconds.
    await sleep(1_500);
    expect(await post(`${running.url}/default/default`, "late", "dev.late")).toBe(202);
    await eventually(
      () => tail.of("cloudevent").some((e) => e["id"] === "late"),
      10_000,
      "the event",
    );
    expect(tail.response.headers["content-type"]).toMatch(/^text\/event-stream/);
  });

  it("an idle tail gets a comment every heartbeat", async () => {
    const app = Fastify();
    app.register(tailRoutes({ bus: new TailBus(), heartbeatMs: 20 }), { prefix: "/api/v1" });
    await app.listen({ host: "127.0.0.1", port: 0 });
    cleanups.push(() => app.close());
    const address = app.server.address() as { port: number };
    const tail = await TailClient.open(`http://127.0.0.1:${address.port}`);
    await eventually(
      () => tail.raw.split(": keep-alive\n\n").length > 3,
      10_000,
      "three heartbeats",
    );
    expect(tail.messages).toEqual([]);
  });
});

describe("GET /api/v1/tail with authentication-oidc enabled", () => {
  const features = `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
---
`;

  it.each([
    { name: "no token is a 401 asking for one", audience: undefined, status: 401 },
    {
      name: "a token for a broker, not the API, is a 401",
      audience: "eventing.knative.dev/broker/default/default",
      status: 401,
    },
    { name: "a token for eventail:api opens the stream", audience: API_AUDIENCE, status: 200 },
  ])("$name", async ({ audience, status }) => {
    const state = tempDir();
    cleanups.push(async () => state.remove());
    const running = await eventail(`${features}${brokerYaml("default")}`, { stateDir: state.dir });
    const headers: Record<string, string> = {};
    if (audience !== undefined) {
      const iat = Math.floor(Date.now() / 1000);
      const token = running.security.keyRing.sign({
        iss: running.security.issuer,
        sub: "system:serviceaccount:default:operator",
        aud: audience,
        iat,
        exp: iat + 300,
      });
      headers["authorization"] = `Bearer ${token}`;
    }
    const response = await request(`${running.url}/api/v1/tail`, { headers });
    cleanups.push(async () => void response.body.destroy());
    expect(response.statusCode).toBe(status);
    if (status === 401) {
      expect(response.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(((await response.body.json()) as { code: string }).code).toBe("UNAUTHENTICATED");
    } else {
      expect(response.headers["content-type"]).toMatch(/^text\/event-stream/);
      await eventually(() => running.tail.connected().length === 1, 10_000, "the reader");
    }
  });
});
