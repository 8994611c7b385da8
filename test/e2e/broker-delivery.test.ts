import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { CloudEvent } from "../../src/events/event.js";
import { encodeHttpRequest } from "../../src/events/http-binding.js";
import { isJsonContentType } from "../../src/events/json-format.js";
import { loadConformanceVectors } from "../events/conformance-vectors.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(responder?: Parameters<typeof startSink>[0]): Promise<RecordingSink> {
  const s = await startSink(responder);
  cleanups.push(() => s.close());
  return s;
}

async function eventail(yaml: string): Promise<Running> {
  const running = await startWithManifests(yaml);
  cleanups.push(() => running.close());
  return running;
}

async function send(
  url: string,
  event: CloudEvent,
  mode: "binary" | "structured" = "binary",
  extra: Record<string, string> = {},
) {
  const encoded = encodeHttpRequest(event, mode);
  const response = await request(url, {
    method: "POST",
    headers: { ...encoded.headers, ...extra },
    body: encoded.body ?? null,
  });
  await response.body.dump();
  return response.statusCode;
}

function binaryHeaders(id: string, type = "dev.example.test", extra: Record<string, string> = {}) {
  return {
    "ce-specversion": "1.0",
    "ce-id": id,
    "ce-source": "/test",
    "ce-type": type,
    "content-type": "application/json",
    ...extra,
  };
}

async function post(url: string, headers: Record<string, string>, body = "{}") {
  const response = await request(url, { method: "POST", headers, body });
  await response.body.dump();
  return response.statusCode;
}

const BROKER_ADDED = new Set(["knativearrivaltime"]);

describe("events reach subscribers exactly as sent", () => {
  const vectors = loadConformanceVectors();

  it("loads the CloudEvents HTTP conformance vectors", () => {
    expect(vectors.length).toBe(15);
  });

  it.each(vectors.map((v) => [v.name, v] as const))("%s", async (_name, vector) => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("all", subscriber.url));
    const status = await send(
      `${running.url}/default/default`,
      vector.event,
      vector.mode,
      vector.transportHeaders,
    );
    expect(status).toBe(202);
    const [received] = await subscriber.waitFor(1);
    const got = received!.event!;
    const attributes = Object.fromEntries(
      Object.entries(got.attributes).filter(([name]) => !BROKER_ADDED.has(name)),
    );
    expect(attributes).toEqual(vector.event.attributes);
    expect(got.attributes["knativebrokerttl"]).toBeUndefined();
    const contentType = vector.event.attributes["datacontenttype"] as string | undefined;
    // Structured mode carries JSON data as a JSON value: compare values, not whitespace.
    if (vector.mode === "structured" && isJsonContentType(contentType)) {
      expect(JSON.parse(got.data!.toString())).toEqual(JSON.parse(vector.event.data!.toString()));
    } else {
      expect(got.data?.toString("hex")).toEqual(vector.event.data?.toString("hex"));
    }
  });
});

describe("broker to trigger delivery", () => {
  it("delivers a batch as separate events", async () => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("all", subscriber.url));
    const batch = [1, 2, 3].map((i) => ({
      specversion: "1.0",
      id: `b${i}`,
      source: "/batch",
      type: "t",
      data: { i },
    }));
    const status = await post(
      `${running.url}/default/default`,
      { "content-type": "application/cloudevents-batch+json" },
      JSON.stringify(batch),
    );
    expect(status).toBe(202);
    await subscriber.waitFor(3);
    expect(subscriber.events.map((e) => e.attributes["id"]).sort()).toEqual(["b1", "b2", "b3"]);
  });

  it("percent-encoded header values round-trip (Euro € 😀)", async () => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("all", subscriber.url));
    const status = await post(
      `${running.url}/default/default`,
      binaryHeaders("pct", "dev.example.test", {
        "ce-subject": "Euro%20%E2%82%AC%20%F0%9F%98%80",
        "ce-myext": "100%25 %22quoted%22",
      }),
    );
    expect(status).toBe(202);
    const [received] = await subscriber.waitFor(1);
    expect(received!.event!.attributes["subject"]).toBe("Euro € 😀");
    expect(received!.event!.attributes["myext"]).toBe('100% "quoted"');
    expect(received!.headers["ce-subject"]).toBe("Euro%20%E2%82%AC%20%F0%9F%98%80");
  });

  it("sends Prefer: reply and passes traceparent on", async () => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("all", subscriber.url));
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    await post(`${running.url}/default/default`, binaryHeaders("tp", "t", { traceparent }));
    const [received] = await subscriber.waitFor(1);
    expect(received!.headers["prefer"]).toBe("reply");
    expect(received!.headers["traceparent"]).toBe(traceparent);
    expect(received!.headers["ce-knativebrokerttl"]).toBeUndefined();
  });

  it("routes a reply from trigger 1 back into the broker, to trigger 2, with TTL 254", async () => {
    const second = await sink();
    const first = await sink((req) =>
      req.event?.attributes["type"] === "dev.example.request"
        ? {
            status: 200,
            headers: {
              "ce-specversion": "1.0",
              "ce-id": "reply-1",
              "ce-source": "/replier",
              "ce-type": "dev.example.reply",
            },
          }
        : { status: 202 },
    );
    const running = await eventail(
      brokerYaml() +
        triggerYaml(
          "one",
          first.url,
          "  filter:\n    attributes:\n      type: dev.example.request",
        ) +
        triggerYaml("two", second.url, "  filter:\n    attributes:\n      type: dev.example.reply"),
    );
    // Observe the stream itself: the reply as the broker stored it, TTL included.
    const broker = running.reconciler.broker("default", "default") as unknown as {
      backing: import("../../src/backing/backing.js").Backing;
      stream: string;
    };
    const stored: CloudEvent[] = [];
    const spy = await broker.backing.subscribe(
      broker.stream,
      "spy",
      async (event) => {
        stored.push(event);
      },
      { concurrency: 1, ordered: false },
    );
    cleanups.push(() => spy.close(0));

    expect(
      await post(`${running.url}/default/default`, binaryHeaders("req-1", "dev.example.request")),
    ).toBe(202);
    const [delivered] = await second.waitFor(1);
    expect(delivered!.event!.attributes["id"]).toBe("reply-1");
    await eventually(() => stored.length >= 2, 5_000, "both events stored");
    const request1 = stored.find((e) => e.attributes["id"] === "req-1")!;
    const reply1 = stored.find((e) => e.attributes["id"] === "reply-1")!;
    expect(request1.attributes["knativebrokerttl"]).toBe(255);
    expect(reply1.attributes["knativebrokerttl"]).toBe(254);
  });

  it("stops a reply loop when the TTL runs out", async () => {
    let n = 0;
    const looper = await sink(() => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `loop-${++n}`,
        "ce-source": "/loop",
        "ce-type": "dev.example.loop",
      },
    }));
    const running = await eventail(brokerYaml() + triggerYaml("loop", looper.url));
    // Start with 5 hops left: delivered with TTL 4, 3, 2, 1, 0, then the next reply is refused.
    expect(
      await post(
        `${running.url}/default/default`,
        binaryHeaders("seed", "dev.example.loop", { "ce-knativebrokerttl": "5" }),
      ),
    ).toBe(202);
    await looper.waitFor(5);
    await sleep(500);
    expect(looper.requests.length).toBe(5);
    const metrics = await (await request(`${running.url}/metrics`)).body.text();
    expect(metrics).toMatch(
      /eventail_dropped_events_total\{namespace="default",reason="ttl-exhausted"\} 1/,
    );
  });

  it("retry: 3 makes 4 attempts, then the dead-letter sink gets the error extensions", async () => {
    const errorBody = "e".repeat(2_000);
    const failing = await sink(() => ({ status: 500, body: errorBody }));
    const dls = await sink();
    const running = await eventail(
      brokerYaml() +
        triggerYaml(
          "fails",
          failing.url,
          "",
          `  delivery:\n    retry: 3\n    backoffPolicy: linear\n    backoffDelay: PT0.05S\n    deadLetterSink:\n      uri: ${dls.url}`,
        ),
    );
    await post(`${running.url}/default/default`, binaryHeaders("dl-1"));
    const [dead] = await dls.waitFor(1);
    expect(failing.requests.length).toBe(4);
    const a = dead!.event!.attributes;
    expect(a["id"]).toBe("dl-1");
    expect(a["knativeerrordest"]).toBe(failing.url);
    expect(a["knativeerrorcode"]).toBe("500");
    expect(Buffer.from(String(a["knativeerrordata"]), "base64").toString()).toBe(
      errorBody.slice(0, 1024),
    );
  });

  it("a trigger whose subscriber takes 5 s does not delay another trigger", async () => {
    const slow = await sink(() => ({ status: 202, delayMs: 5_000 }));
    const fast = await sink();
    const running = await eventail(
      brokerYaml() + triggerYaml("slow", slow.url) + triggerYaml("fast", fast.url),
    );
    const started = Date.now();
    for (let i = 0; i < 20; i++)
      await post(`${running.url}/default/default`, binaryHeaders(`iso-${i}`));
    await fast.waitFor(20, 4_000);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(slow.requests.length).toBeGreaterThan(0);
  }, 20_000);

  it("applies an edited manifest without a restart and without losing accepted events", async () => {
    const before = await sink();
    const after = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("t", before.url));
    expect(await post(`${running.url}/default/default`, binaryHeaders("r1"))).toBe(202);
    await before.waitFor(1);
    writeFileSync(running.file, brokerYaml() + triggerYaml("t", after.url));
    expect(await running.reload()).toEqual([]);
    expect(await post(`${running.url}/default/default`, binaryHeaders("r2"))).toBe(202);
    await after.waitFor(1);
    expect(after.events[0]!.attributes["id"]).toBe("r2");
    expect(before.requests.length).toBe(1);
  });

  it("keeps a memory broker on memory when an edit names another backing: its held events still arrive", async () => {
    let healthy = false;
    const subscriber = await sink(() => ({ status: healthy ? 202 : 503 }));
    const retries =
      "  delivery:\n    retry: 100\n    backoffPolicy: linear\n    backoffDelay: PT0.2S";
    const running = await eventail(brokerYaml() + triggerYaml("t", subscriber.url, "", retries));
    for (const id of ["held-1", "held-2"]) {
      expect(await post(`${running.url}/default/default`, binaryHeaders(id))).toBe(202);
    }
    await subscriber.waitFor(2);
    // Edited onto Redis: moving would leave the two events behind in the memory backing.
    writeFileSync(
      running.file,
      `apiVersion: v1
kind: ConfigMap
metadata: {name: on-redis, namespace: default}
data: {backing: redis, url: "redis://127.0.0.1:1"}
---
${brokerYaml("default", "spec:\n  config: {apiVersion: v1, kind: ConfigMap, name: on-redis}")}${triggerYaml("t", subscriber.url, "", retries)}`,
    );
    expect(await running.reload()).toEqual([]);
    const healedAt = subscriber.requests.length;
    healthy = true;
    await eventually(
      () => {
        const delivered = subscriber.requests.slice(healedAt).map((r) => r.event?.attributes["id"]);
        return delivered.includes("held-1") && delivered.includes("held-2");
      },
      10_000,
      "the held events delivered",
    );
    expect(await post(`${running.url}/default/default`, binaryHeaders("after"))).toBe(202);
    await eventually(
      () => subscriber.events.some((e) => e.attributes["id"] === "after"),
      10_000,
      "a new event on the broker that kept its backing",
    );
  });

  it("notices an edited file by itself (file watching) and applies it", async () => {
    const before = await sink();
    const after = await sink();
    const running = await startWithManifests(brokerYaml() + triggerYaml("t", before.url), {
      watch: true,
    });
    cleanups.push(() => running.close());
    writeFileSync(running.file, brokerYaml() + triggerYaml("t", after.url));
    await eventually(
      async () => {
        await post(`${running.url}/default/default`, binaryHeaders(`w-${Date.now()}`));
        return after.requests.length > 0;
      },
      10_000,
      "the edited trigger to deliver to the new subscriber",
    );
  });

  it("keeps running the old config when an edit is invalid", async () => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("t", subscriber.url));
    writeFileSync(
      running.file,
      brokerYaml() +
        triggerYaml(
          "t",
          subscriber.url,
          "  filters:\n    - exact: {type: a}\n      prefix: {type: b}",
        ),
    );
    const issues = await running.reload();
    expect(issues.length).toBeGreaterThan(0);
    expect(await post(`${running.url}/default/default`, binaryHeaders("still"))).toBe(202);
    await subscriber.waitFor(1);
  });

  it("shutdown stops ingress, then drains in-flight deliveries", async () => {
    const slowish = await sink(() => ({ status: 202, delayMs: 300 }));
    const running = await startWithManifests(brokerYaml() + triggerYaml("t", slowish.url));
    for (let i = 0; i < 10; i++)
      expect(await post(`${running.url}/default/default`, binaryHeaders(`d${i}`))).toBe(202);
    await running.close();
    expect(slowish.requests.length).toBe(10);
  });
});
