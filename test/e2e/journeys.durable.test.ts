import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { connect, nanos } from "nats";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { journeyStream } from "../../src/backing/nats/journey-store.js";
import { bucketOf, journeyField } from "../../src/backing/redis/journey-store.js";
import type { JourneyJson } from "../../src/operations/journey-json.js";
import { serviceUrl } from "../support/services.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

type Durable = "redis" | "nats" | "kafka" | "rabbitmq";

/**
 * The Broker ConfigMap data for each durable backing. Kafka gets a name prefix of its own per
 * process set, so its journey topic starts empty, and the mock's quick group settings.
 */
function backingData(backing: Durable, url: string, prefix: string): string {
  if (backing === "kafka") {
    return `  backing: kafka
  bootstrap.servers: "${url}"
  name.prefix: ${prefix}
  session.timeout.ms: "3000"
  heartbeat.interval.ms: "1000"
  rebalance.timeout.ms: "10000"`;
  }
  return `  backing: ${backing}\n  url: ${url}`;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function manifests(
  backing: Durable,
  url: string,
  broker: string,
  subscriber: RecordingSink,
  retention?: string,
): string {
  const annotation =
    retention === undefined
      ? ""
      : `\n  annotations:\n    eventail.io/journey.retention: ${retention}`;
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: default
data:
${backingData(backing, url, broker)}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: ${broker}
  namespace: default${annotation}
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: durable
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: takes-all
  namespace: default
spec:
  broker: ${broker}
  subscriber:
    uri: ${subscriber.url}
`;
}

async function process_(yaml: string) {
  const running = await startWithManifests(yaml);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await running.close();
  };
  cleanups.push(close);
  return { running, close };
}

async function send(url: string, id: string, source: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": source,
      "ce-type": "order.created",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  return response.statusCode;
}

async function journey(base: string, path: string) {
  const response = await request(`${base}/api/v1/events/${path}`);
  return {
    status: response.statusCode,
    body: (await response.body.json()) as JourneyJson & { code?: string; sources?: string[] },
  };
}

const delivered = async (base: string, id: string) => {
  const answer = await journey(base, `default/${id}`);
  return answer.status === 200 && answer.body.routes.some((r) => r.outcome === "delivered");
};

/** How long the engine keeps the journey of `id`, in milliseconds, as the engine itself says. */
async function engineRetention(backing: Durable, url: string, id: string, ms: number) {
  if (backing === "redis") {
    // The bucket (of that retention) holding the journey's reports: the current or the one before.
    const redis = new Redis(url);
    try {
      for (const at of [Date.now(), Date.now() - ms / 64]) {
        const { key } = bucketOf(ms, at);
        if (await redis.hexists(key, journeyField("default", id))) return await redis.pttl(key);
      }
      return -2;
    } finally {
      redis.disconnect();
    }
  }
  // NATS keeps it in the stream of that retention, whose max_age is the retention.
  const nc = await connect({ servers: url });
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(journeyStream(ms));
    return info.config.max_age / nanos(1);
  } finally {
    await nc.close();
  }
}

const DURABLES: Durable[] = ["redis", "nats", "kafka", "rabbitmq"];

describe.each(DURABLES)("journeys on a %s broker", (backing) => {
  const url = serviceUrl(backing);
  const manifestsOn = (broker: string, subscriber: RecordingSink, retention?: string) =>
    manifests(backing, url!, broker, subscriber, retention);

  it.skipIf(!url)(
    "process B answers for an event process A accepted, and a restart keeps the journey",
    async () => {
      const subscriber = await startSink();
      cleanups.push(() => subscriber.close());
      const broker = `journeys-${randomUUID().slice(0, 8)}`;
      const yaml = manifestsOn(broker, subscriber);
      const a = await process_(yaml);
      const b = await process_(yaml);
      const id = randomUUID();
      expect(await send(`${a.running.url}/default/${broker}`, id, "/orders")).toBe(202);
      await eventually(() => delivered(b.running.url, id), 20_000, "the journey on process B");
      const seen = (await journey(b.running.url, `default/${id}`)).body;
      expect(seen.accepted.address).toMatch(new RegExp(`/default/${broker}$`));
      expect(seen.routes).toMatchObject([
        { kind: "Trigger", name: "takes-all", outcome: "delivered", attempts: [{ status: 202 }] },
      ]);
      await a.close();
      await b.close();
      const c = await process_(yaml);
      const again = await journey(c.running.url, `default/${id}`);
      expect(again.status).toBe(200);
      expect(again.body.routes[0]?.outcome).toBe("delivered");
    },
    60_000,
  );

  it.skipIf(!url)(
    "answers 409 for an id accepted with two sources, across processes",
    async () => {
      const subscriber = await startSink();
      cleanups.push(() => subscriber.close());
      const broker = `journeys-${randomUUID().slice(0, 8)}`;
      const yaml = manifestsOn(broker, subscriber);
      const a = await process_(yaml);
      const b = await process_(yaml);
      const id = randomUUID();
      expect(await send(`${a.running.url}/default/${broker}`, id, "/a")).toBe(202);
      expect(await send(`${b.running.url}/default/${broker}`, id, "/b")).toBe(202);
      await eventually(
        async () => (await journey(a.running.url, `default/${id}`)).status === 409,
        20_000,
      );
      const answer = await journey(a.running.url, `default/${id}`);
      expect(answer.body).toMatchObject({ code: "AMBIGUOUS_EVENT_ID", sources: ["/a", "/b"] });
      expect((await journey(b.running.url, `default/${id}?source=%2Fb`)).body.source).toBe("/b");
    },
    60_000,
  );

  // Kafka and RabbitMQ streams have no per-record expiry the engine could show: the stores' own
  // tests cover it.
  if (backing === "kafka" || backing === "rabbitmq") return;

  it.skipIf(!url).each([
    ["the broker's eventail.io/journey.retention", "PT1H", 3_600_000],
    ["PT24H when the broker names none", undefined, 86_400_000],
  ])("keeps the journey on the engine for %s", async (_name, retention, ms) => {
    const subscriber = await startSink();
    cleanups.push(() => subscriber.close());
    const broker = `journeys-${randomUUID().slice(0, 8)}`;
    const a = await process_(manifestsOn(broker, subscriber, retention));
    const id = randomUUID();
    await send(`${a.running.url}/default/${broker}`, id, "/orders");
    await eventually(() => delivered(a.running.url, id), 15_000, "the journey");
    const kept = await engineRetention(backing, url!, id, ms);
    expect(kept).toBeGreaterThan(ms - 60_000);
    // Redis drops a bucket of reports (1/64 of the retention) at most two buckets late; lookups
    // skip reports past the retention.
    expect(kept).toBeLessThanOrEqual(backing === "redis" ? ms + (2 * ms) / 64 : ms);
  });
});
