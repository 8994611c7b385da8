import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { serviceUrl } from "../support/services.js";
import {
  eventually,
  type ReceivedRequest,
  type SinkResponse,
  startSink,
  startWithManifests,
} from "../support/sink.js";

/**
 * Channel, Subscription, Sequence and Parallel behaviour, run unchanged against every channel
 * kind whose backing is available (CONTRACT §5: InMemoryChannel, RedisStreamChannel,
 * NatsJetStreamChannel, KafkaChannel).
 */
const CHANNEL_KINDS: Array<[string, string, string | undefined]> = [
  ["InMemoryChannel", "messaging.knative.dev/v1", "memory"],
  ["RedisStreamChannel", "eventail.io/v1alpha1", "redis"],
  ["NatsJetStreamChannel", "messaging.knative.dev/v1alpha1", "nats"],
  ["KafkaChannel", "messaging.knative.dev/v1beta1", "kafka"],
];

const available = (service: string | undefined) =>
  service === "memory" || serviceUrl(service as "redis" | "nats" | "kafka") !== undefined;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(responder?: (r: ReceivedRequest, i: number) => SinkResponse | undefined) {
  const s = await startSink(responder);
  cleanups.push(() => s.close());
  return s;
}

async function eventail(yaml: string) {
  const running = await startWithManifests(yaml, { drainMs: 1_000 });
  cleanups.push(() => running.close());
  return running;
}

function binary(id: string, type = "dev.example.test", data = "{}") {
  return {
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/channels-test",
      "ce-type": type,
      "content-type": "application/json",
    },
    body: data,
  };
}

async function post(url: string, id: string, type?: string, data?: string): Promise<number> {
  const { headers, body } = binary(id, type, data);
  const response = await request(url, { method: "POST", headers, body });
  await response.body.dump();
  return response.statusCode;
}

/** A subscriber that answers with a reply event: `data.steps` gains `step`. */
function appender(step: string, replyType = "dev.example.step") {
  return (req: ReceivedRequest): SinkResponse => {
    const data = JSON.parse(req.event?.data?.toString() || "{}") as { steps?: string[] };
    return {
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `${String(req.event?.attributes["id"])}-${step}`,
        "ce-source": `/step/${step}`,
        "ce-type": replyType,
        "content-type": "application/json",
      },
      body: JSON.stringify({ steps: [...(data.steps ?? []), step] }),
    };
  };
}

const dest = (url: string) => `uri: ${url}`;

/**
 * Deletes the streams (NATS) and keys (Redis) whose names hold one of `suffixes`: each run's
 * channels are new, and a shared engine would otherwise keep every run's streams on disk. Kafka's
 * mock keeps its topics only as long as it runs.
 */
async function forgetEngineState(service: string | undefined, suffixes: readonly string[]) {
  if (suffixes.length === 0 || (service !== "nats" && service !== "redis")) return;
  const url = serviceUrl(service);
  if (url === undefined) return;
  const ours = (name: string) => suffixes.some((s) => name.includes(s));
  if (service === "nats") {
    const { connect } = await import("nats");
    const connection = await connect({ servers: url });
    const manager = await connection.jetstreamManager();
    const names: string[] = [];
    for await (const stream of manager.streams.list()) {
      if (ours(stream.config.name)) names.push(stream.config.name);
    }
    for (const name of names) await manager.streams.delete(name);
    await connection.close();
    return;
  }
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  for (const suffix of suffixes) {
    const keys = await redis.keys(`*${suffix}*`);
    if (keys.length > 0) await redis.del(...keys);
  }
  redis.disconnect();
}

describe.each(CHANNEL_KINDS)("channels on %s", (kind, apiVersion, service) => {
  const skip = !available(service);
  const used: string[] = [];
  // Unique names keep durable engines from replaying another run's events into this one.
  const suffix = () => {
    const value = randomUUID().slice(0, 8);
    used.push(value);
    return value;
  };
  afterAll(() => forgetEngineState(service, used));

  it.skipIf(skip)(
    "fans every event out to 3 subscriptions; a failing one neither blocks nor duplicates the others",
    async () => {
      const a = await sink();
      const b = await sink();
      const failing = await sink(() => ({ status: 500 }));
      const dls = await sink();
      const ch = `fan-${suffix()}`;
      const subscription = (name: string, target: string, extra = "") => `---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: ${name}}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${ch}}
  subscriber: {${dest(target)}}
${extra}`;
      const running = await eventail(`apiVersion: ${apiVersion}
kind: ${kind}
metadata: {name: ${ch}}
${subscription("a", a.url)}
${subscription("b", b.url)}
${subscription("bad", failing.url, `  delivery:\n    retry: 2\n    backoffDelay: PT0.05S\n    deadLetterSink: {${dest(dls.url)}}`)}
`);
      const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
      for (const id of ids)
        expect(await post(`${running.url}/channels/default/${ch}`, id)).toBe(202);
      await a.waitFor(20, 20_000);
      await b.waitFor(20, 20_000);
      await dls.waitFor(20, 30_000);
      await sleep(300);
      for (const s of [a, b, dls]) {
        expect(s.events.map((e) => e.attributes["id"]).sort()).toEqual([...ids].sort());
      }
      expect(failing.requests.length).toBe(60);
      expect(dls.events[0]!.attributes["knativeerrorcode"]).toBe("500");
    },
    60_000,
  );

  it.skipIf(skip)(
    "sends each subscription's reply to its own spec.reply",
    async () => {
      const replier1 = await sink(appender("one"));
      const replier2 = await sink(appender("two"));
      const reply1 = await sink();
      const reply2 = await sink();
      const ch = `rep-${suffix()}`;
      const running = await eventail(`apiVersion: ${apiVersion}
kind: ${kind}
metadata: {name: ${ch}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: s1}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${ch}}
  subscriber: {${dest(replier1.url)}}
  reply: {${dest(reply1.url)}}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: s2}
spec:
  channel: {apiVersion: ${apiVersion}, kind: ${kind}, name: ${ch}}
  subscriber: {${dest(replier2.url)}}
  reply: {${dest(reply2.url)}}
`);
      expect(await post(`${running.url}/channels/default/${ch}`, "r1")).toBe(202);
      const [got1] = await reply1.waitFor(1, 20_000);
      const [got2] = await reply2.waitFor(1, 20_000);
      expect(JSON.parse(got1!.event!.data!.toString())).toEqual({ steps: ["one"] });
      expect(JSON.parse(got2!.event!.data!.toString())).toEqual({ steps: ["two"] });
    },
    60_000,
  );

  it.skipIf(skip)(
    "a 3-step Sequence ends at spec.reply with every step's change, in order",
    async () => {
      const steps = [
        await sink(appender("first")),
        await sink(appender("second")),
        await sink(appender("third", "dev.example.done")),
      ];
      const final = await sink();
      const seq = `seq-${suffix()}`;
      const running = await eventail(`apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: ${seq}}
spec:
  channelTemplate: {apiVersion: ${apiVersion}, kind: ${kind}}
  steps:
    - ${dest(steps[0]!.url)}
    - ${dest(steps[1]!.url)}
    - ${dest(steps[2]!.url)}
  reply: {${dest(final.url)}}
`);
      expect(
        await post(
          `${running.url}/flows/default/sequences/${seq}`,
          "s1",
          "dev.example.start",
          '{"steps":[]}',
        ),
      ).toBe(202);
      const [done] = await final.waitFor(1, 30_000);
      expect(done!.event!.attributes["type"]).toBe("dev.example.done");
      expect(JSON.parse(done!.event!.data!.toString())).toEqual({
        steps: ["first", "second", "third"],
      });
    },
    60_000,
  );

  it.skipIf(skip)(
    "a Parallel with two filtered branches runs only the branch whose filter passes",
    async () => {
      const passFilter = await sink(appender("passed", "dev.example.filtered"));
      const rejectFilter = await sink(() => ({ status: 202 }));
      const branchA = await sink();
      const branchB = await sink();
      const par = `par-${suffix()}`;
      const running = await eventail(`apiVersion: flows.knative.dev/v1
kind: Parallel
metadata: {name: ${par}}
spec:
  channelTemplate: {apiVersion: ${apiVersion}, kind: ${kind}}
  branches:
    - filter: {${dest(passFilter.url)}}
      subscriber: {${dest(branchA.url)}}
    - filter: {${dest(rejectFilter.url)}}
      subscriber: {${dest(branchB.url)}}
`);
      expect(await post(`${running.url}/flows/default/parallels/${par}`, "p1")).toBe(202);
      const [got] = await branchA.waitFor(1, 30_000);
      // The branch subscriber gets the filter's reply, not the original event.
      expect(got!.event!.attributes["type"]).toBe("dev.example.filtered");
      await rejectFilter.waitFor(1, 10_000);
      await sleep(500);
      expect(branchB.requests.length).toBe(0);
    },
    60_000,
  );
});

describe("channel ingress status codes", () => {
  it("answers 202, 400, 404, 405 and 413 like broker ingress", async () => {
    const running = await eventail(`apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata:
  name: small
  annotations: {eventail.io/ingress.max-body-bytes: "64"}
`);
    const url = `${running.url}/channels/default/small`;
    expect(await post(url, "ok")).toBe(202);
    const bad = await request(url, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-source": "/s", "ce-type": "t" },
      body: "{}",
    });
    expect(bad.statusCode).toBe(400);
    expect(((await bad.body.json()) as { code: string }).code).toBe("INVALID_EVENT");
    expect(await post(`${running.url}/channels/default/nope`, "x")).toBe(404);
    const get = await request(url, { method: "GET" });
    expect(get.statusCode).toBe(405);
    await get.body.dump();
    expect(await post(url, "big", "t", JSON.stringify({ pad: "x".repeat(100) }))).toBe(413);
  });

  it("a channel does not touch knativebrokerttl (no TTL processing on channels)", async () => {
    const subscriber = await sink();
    const running = await eventail(`apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: plain}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: s}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: plain}
  subscriber: {${dest(subscriber.url)}}
`);
    const response = await request(`${running.url}/channels/default/plain`, {
      method: "POST",
      headers: { ...binary("ttl0").headers, "ce-knativebrokerttl": "0" },
      body: "{}",
    });
    expect(response.statusCode).toBe(202);
    await subscriber.waitFor(1);
  });
});

describe("refs resolve between kinds", () => {
  it("Trigger → Sequence → Broker: the sequence's result re-enters the broker and reaches a second trigger", async () => {
    const step = await sink(appender("enriched", "dev.example.enriched"));
    const end = await sink();
    const running = await eventail(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: enrich}
spec:
  steps:
    - ${dest(step.url)}
  reply:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-sequence}
spec:
  broker: default
  filter: {attributes: {type: dev.example.raw}}
  subscriber:
    ref: {apiVersion: flows.knative.dev/v1, kind: Sequence, name: enrich}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: enriched}
spec:
  broker: default
  filter: {attributes: {type: dev.example.enriched}}
  subscriber: {${dest(end.url)}}
`);
    expect(await post(`${running.url}/default/default`, "chain-1", "dev.example.raw")).toBe(202);
    const [got] = await end.waitFor(1, 15_000);
    expect(JSON.parse(got!.event!.data!.toString())).toEqual({ steps: ["enriched"] });
  });

  it("a Subscription's subscriber may be a Broker and its reply another Channel", async () => {
    const final = await sink();
    const running = await eventail(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all}
spec:
  broker: default
  subscriber: {${dest(final.url)}}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: in}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: to-broker}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: in}
  subscriber:
    ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: default}
`);
    expect(await post(`${running.url}/channels/default/in`, "via-channel")).toBe(202);
    const [got] = await final.waitFor(1);
    expect(got!.event!.attributes["id"]).toBe("via-channel");
    await eventually(async () => {
      const metrics = await (await request(`${running.url}/metrics`)).body.text();
      return /eventail_ingress_events_total\{namespace="default",broker="default",code="202"\} 1/.test(
        metrics,
      );
    });
  });
});
