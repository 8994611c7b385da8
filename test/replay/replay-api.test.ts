import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { connect } from "nats";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { jetStreamName } from "../../src/backing/nats/naming.js";
import { createBacking as createRabbitBacking } from "../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../src/observability/logger.js";
import { REPLAY_EXTENSION } from "../../src/operations/replay.js";
import { serviceUrl } from "../support/services.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const redisUrl = serviceUrl("redis");
const natsUrl = serviceUrl("nats");
const kafkaUrl = serviceUrl("kafka");
const rabbitUrl = serviceUrl("rabbitmq");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(): Promise<RecordingSink> {
  const s = await startSink();
  cleanups.push(() => s.close());
  return s;
}

async function publish(url: string, id: string, type: string, subject?: string): Promise<void> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/replay-test",
      "ce-type": type,
      ...(subject === undefined ? {} : { "ce-subject": subject }),
      "content-type": "application/json",
    },
    body: JSON.stringify({ id }),
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

async function call(method: "GET" | "POST", url: string, body?: unknown) {
  const response = await request(url, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return {
    status: response.statusCode,
    body: (await response.body.json()) as Record<string, unknown>,
  };
}

/** Polls GET /replay/{id} until the replay is no longer running. */
async function finished(base: string, id: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await eventually(
    async () => {
      const answer = await call("GET", `${base}/api/v1/replay/${id}`);
      expect(answer.status).toBe(200);
      last = answer.body;
      return last["state"] !== "running";
    },
    20_000,
    "the replay to end",
  );
  return last;
}

/** A clock reading with some room on both sides, so events before and after stamp apart. */
async function boundary(): Promise<string> {
  await sleep(5);
  const at = new Date().toISOString();
  await sleep(5);
  return at;
}

function replayed(s: RecordingSink, id: string): string[] {
  return s.events
    .filter((event) => event.attributes[REPLAY_EXTENSION] === id)
    .map((event) => String(event.attributes["id"]));
}

const BACKINGS: Array<[string, string | undefined, boolean]> = [
  ["memory", undefined, true],
  ["redis", redisUrl, redisUrl !== undefined],
  ["nats", natsUrl, natsUrl !== undefined],
  ["kafka", kafkaUrl, kafkaUrl !== undefined],
  ["rabbitmq", rabbitUrl, rabbitUrl !== undefined],
];

/** Deletes what a test broker left on a shared engine (runs after Eventail closed). */
async function dropStream(kind: string, url: string | undefined, broker: string): Promise<void> {
  const stream = `broker.default.${broker}`;
  if (kind === "redis") {
    const redis = new Redis(url!);
    await redis.del(`eventail:${stream}`);
    redis.disconnect();
  } else if (kind === "rabbitmq") {
    const backing = await createRabbitBacking(
      { kind: "rabbitmq", settings: { url: url! } },
      { logger: silentLogger() },
    );
    await backing.removeStream(stream).catch(() => undefined);
    await backing.close();
  } else if (kind === "nats") {
    const nc = await connect({ servers: url! });
    await (await nc.jetstreamManager()).streams.delete(jetStreamName(stream)).catch(() => false);
    await nc.close();
  }
}

describe.each(BACKINGS)("replay over HTTP on %s", (kind, url, available) => {
  function configYaml(broker: string): string {
    if (kind === "memory") return "";
    return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${broker}-config
  namespace: default
data:
  backing: ${kind}
  ${kind === "kafka" ? "bootstrap.servers" : "url"}: ${url}
---
`;
  }

  function retainedBroker(broker: string, retention = "PT1H"): string {
    const config =
      kind === "memory"
        ? ""
        : `spec:\n  config:\n    apiVersion: v1\n    kind: ConfigMap\n    name: ${broker}-config\n`;
    const annotations =
      retention === "" ? "" : `  annotations:\n    eventail.io/retention: ${retention}\n`;
    return `---\n${configYaml(broker)}${brokerYaml(broker).trimEnd()}\n${annotations}${config}`;
  }

  it.skipIf(!available)(
    "replays the window to every trigger (their filters apply), then to one trigger with a CESQL filter",
    async () => {
      const broker = `rp-${randomBytes(3).toString("hex")}`;
      cleanups.push(() => dropStream(kind, url, broker));
      const everything = await sink();
      const orders = await sink();
      const running = await startWithManifests(
        [
          retainedBroker(broker),
          triggerYaml("all", everything.url, "", "", broker),
          triggerYaml(
            "orders",
            orders.url,
            "  filter:\n    attributes:\n      type: order.created",
            "",
            broker,
          ),
        ].join("\n"),
      );
      cleanups.push(() => running.close());
      const ingress = `${running.url}/default/${broker}`;
      const api = `${running.url}/api/v1`;

      await publish(ingress, "e1", "order.created");
      const from = await boundary();
      await publish(ingress, "e2", "order.created");
      await publish(ingress, "e3", "order.cancelled");
      await publish(ingress, "e4", "order.created", "vip");
      const to = await boundary();
      await publish(ingress, "e5", "order.created");
      await everything.waitFor(5);
      await orders.waitFor(4);

      const started = await call("POST", `${api}/replay`, {
        namespace: "default",
        broker,
        from,
        to,
      });
      expect(started).toMatchObject({ status: 202 });
      const id = String(started.body["id"]);
      expect(await finished(running.url, id)).toEqual({
        id,
        state: "completed",
        sent: 3,
        total: 3,
      });
      expect(replayed(everything, id)).toEqual(["e2", "e3", "e4"]);
      // The trigger's own filter still applies: no order.cancelled for "orders".
      expect(replayed(orders, id).sort()).toEqual(["e2", "e4"]);

      const narrow = await call("POST", `${api}/replay`, {
        namespace: "default",
        broker,
        from,
        to,
        trigger: "orders",
        filter: "subject = 'vip'",
      });
      expect(narrow.status).toBe(202);
      const narrowId = String(narrow.body["id"]);
      expect(await finished(running.url, narrowId)).toMatchObject({
        state: "completed",
        sent: 1,
        total: 1,
      });
      expect(replayed(orders, narrowId)).toEqual(["e4"]);
      // Naming a trigger leaves the others alone.
      expect(replayed(everything, narrowId)).toEqual([]);
      expect(everything.events).toHaveLength(8);

      // From a window's start to now (no `to`): e5 too.
      const open = await call("POST", `${api}/replay`, {
        namespace: "default",
        broker,
        from,
        trigger: "all",
      });
      const openId = String(open.body["id"]);
      expect(await finished(running.url, openId)).toMatchObject({ sent: 4, total: 4 });
      expect(replayed(everything, openId)).toEqual(["e2", "e3", "e4", "e5"]);
    },
    60_000,
  );

  // Durable backings only: memory keeps replays in the process, by design.
  if (kind === "redis") {
    it.skipIf(!available)(
      "a replay's state survives a restart; one whose process died reads as failed",
      async () => {
        const broker = `rp-${randomBytes(3).toString("hex")}`;
        cleanups.push(() => dropStream(kind, url, broker));
        const s = await sink();
        const manifests = [retainedBroker(broker), triggerYaml("t", s.url, "", "", broker)].join(
          "\n",
        );
        const first = await startWithManifests(manifests);
        let firstOpen = true;
        cleanups.push(async () => {
          if (firstOpen) await first.close();
        });
        const from = await boundary();
        await publish(`${first.url}/default/${broker}`, "r1", "t");
        await publish(`${first.url}/default/${broker}`, "r2", "t");
        await s.waitFor(2);
        const started = await call("POST", `${first.url}/api/v1/replay`, {
          namespace: "default",
          broker,
          from,
        });
        const id = String(started.body["id"]);
        expect(await finished(first.url, id)).toMatchObject({ state: "completed", sent: 2 });
        await first.close();
        firstOpen = false;

        const second = await startWithManifests(manifests);
        cleanups.push(() => second.close());
        expect((await call("GET", `${second.url}/api/v1/replay/${id}`)).body).toEqual({
          id,
          state: "completed",
          sent: 2,
          total: 2,
        });

        const redis = new Redis(url!);
        try {
          const lost = `lost-${randomBytes(3).toString("hex")}`;
          await redis.set(
            `eventail:replay:${lost}`,
            JSON.stringify({ id: lost, state: "running", sent: 1, total: 5, updatedAt: 1 }),
            "PX",
            60_000,
          );
          expect((await call("GET", `${second.url}/api/v1/replay/${lost}`)).body).toMatchObject({
            state: "failed",
            sent: 1,
            total: 5,
            error: expect.stringMatching(/interrupted/),
          });
        } finally {
          redis.disconnect();
        }
      },
      60_000,
    );
  }

  it.skipIf(!available)("refuses what it cannot replay", async () => {
    const broker = `rp-${randomBytes(3).toString("hex")}`;
    const plain = `${broker}-plain`;
    cleanups.push(() => dropStream(kind, url, broker));
    cleanups.push(() => dropStream(kind, url, plain));
    const s = await sink();
    const running = await startWithManifests(
      [
        retainedBroker(broker),
        retainedBroker(plain, ""),
        triggerYaml("t", s.url, "", "", broker),
      ].join("\n"),
    );
    cleanups.push(() => running.close());
    const api = `${running.url}/api/v1`;
    const from = new Date(Date.now() - 60_000).toISOString();
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ namespace: "default", broker }, 400, /from: required/],
      [{ namespace: "default", broker, from: "yesterday" }, 400, /RFC 3339/],
      [{ namespace: "default", broker, from, filter: "type = " }, 400, /filter/],
      [{ namespace: "default", broker: plain, from }, 400, /eventail.io\/retention/],
      [{ namespace: "default", broker: "nope", from }, 404, /no broker/],
      [{ namespace: "default", broker, from, trigger: "nope" }, 404, /no trigger nope/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await call("POST", `${api}/replay`, body);
      expect({ body, status: answer.status }).toEqual({ body, status });
      expect(String(answer.body["error"])).toMatch(message);
    }
    expect((await call("GET", `${api}/replay/unknown`)).status).toBe(404);
  });
});
