import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";
import { request } from "undici";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { durableName, eventSubject, jetStreamName } from "../../../src/backing/nats/naming.js";
import { createEvent } from "../../../src/events/event.js";
import {
  Recorder,
  testEvent,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { closedAfterEach, eventually, type RecordingSink } from "../../support/sink.js";
import { JetStreamFixture } from "./jetstream-fixture.js";

const NATS_URL = serviceUrl("nats");
const A = "dev.example.a";
const B = "dev.example.b";
/** Generous: the reconciler retries every 5 s at most, and a NATS client reconnects in ~1 s. */
const RECOVERY_MS = 60_000;
const TEST_MS = 120_000;

/**
 * A relay to NATS that, once armed, cuts every connection right after passing on the request
 * that creates (or deletes) `durable` (the engine acts on it, the answer never comes back), and
 * refuses new connections until restored: a subscribe that fails half-way through replacing a
 * consumer.
 */
interface CuttingProxy {
  readonly url: string;
  cutAfterCreating(durable: string): void;
  cutAfterDeleting(jetStream: string, durable: string): void;
  cutNow(): void;
  readonly cut: boolean;
  restore(): void;
  close(): Promise<void>;
}

async function startCuttingProxy(target: string): Promise<CuttingProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  let armed: ((seen: string) => boolean) | undefined;
  let down = false;
  const cutNow = () => {
    down = true;
    for (const socket of sockets) socket.destroy();
  };
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    let seen = "";
    client.on("data", (chunk: Buffer) => {
      if (armed === undefined || down) {
        upstream.write(chunk);
        return;
      }
      seen = (seen + chunk.toString("latin1")).slice(-16_384);
      if (!armed(seen)) {
        upstream.write(chunk);
        return;
      }
      armed = undefined;
      down = true;
      // The request reaches the engine; nothing of its answer comes back.
      upstream.end(chunk);
      for (const socket of sockets) if (socket !== upstream) socket.destroy();
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!down) client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${listening}`,
    cutAfterCreating: (durable) => {
      armed = (seen) => seen.includes(".CREATE.") && seen.includes(`"durable_name":"${durable}"`);
    },
    cutAfterDeleting: (jetStream, durable) => {
      armed = (seen) => seen.includes(`.CONSUMER.DELETE.${jetStream}.${durable} `);
    },
    cutNow,
    get cut() {
      return down;
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function manifests(ns: string, natsUrl: string, sinkUrl: string, type: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: ${ns}
data:
  backing: nats
  url: ${natsUrl}
  subscribeTimeoutMs: "3000"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: orders
  namespace: ${ns}
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: durable
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: swapped
  namespace: ${ns}
spec:
  broker: orders
  filter:
    attributes:
      type: ${type}
  subscriber:
    uri: ${sinkUrl}
`;
}

/** Posts until the broker accepts it (202), as a producer retrying after 503s would. */
async function sendUntilAccepted(ingress: string, id: string, type: string): Promise<void> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    const response = await request(ingress, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": id,
        "ce-source": "/filter-swap-outage",
        "ce-type": type,
        "content-type": "application/json",
      },
      body: "{}",
    }).catch(() => undefined);
    await response?.body.dump();
    if (response?.statusCode === 202) return;
    if (Date.now() > deadline) {
      throw new Error(`${id} was not accepted (last status ${response?.statusCode})`);
    }
    await sleep(200);
  }
}

function ids(sink: RecordingSink): string[] {
  return sink.events.map((event) => String(event.attributes["id"]));
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
const started = closedAfterEach();

/** Inspects the engine over a connection of its own. */
async function inspect<T>(work: (jsm: Awaited<ReturnType<typeof jsmOf>>) => Promise<T>) {
  const nc = await connect({ servers: NATS_URL! });
  try {
    return await work(await jsmOf(nc));
  } finally {
    await nc.close();
  }
}
const jsmOf = (nc: Awaited<ReturnType<typeof connect>>) => nc.jetstreamManager();

/**
 * A trigger whose type filter changes while its engine becomes unreachable, half-way through
 * the new version's subscribe: the durable consumer already has the new filter, the subscribe
 * failed, and the old version, whose durable that was, no longer pulls (it is superseded).
 */
describe.skipIf(!NATS_URL)("NATS: a trigger's filter change whose subscribe fails", () => {
  async function setUp() {
    const ns = `swap-${randomUUID().slice(0, 8)}`;
    const stream = `broker.${ns}.orders`;
    const durable = durableName(`trigger.${ns}.swapped`);
    const proxy = await startCuttingProxy(NATS_URL!);
    cleanups.push(() => proxy.close());
    cleanups.push(() => inspect((jsm) => jsm.streams.delete(jetStreamName(stream))).then(() => {}));
    const sink = await started.sink();
    const running = await started.eventail(manifests(ns, proxy.url, sink.url, A));
    const ingress = `${running.url}/${ns}/orders`;
    await sendUntilAccepted(ingress, "a-0", A);
    await eventually(() => ids(sink).includes("a-0"), RECOVERY_MS, "the first event");

    // The new version's subscribe rebuilds the durable for type B; the engine does it, then
    // vanishes before the subscribe hears back.
    proxy.cutAfterCreating(durable);
    writeFileSync(running.file, manifests(ns, proxy.url, sink.url, B));
    expect(await running.reload()).toEqual([]);
    expect(proxy.cut).toBe(true);
    await eventually(
      async () =>
        (
          await inspect((jsm) => jsm.consumers.info(jetStreamName(stream), durable)).catch(
            () => undefined,
          )
        )?.config.filter_subject === eventSubject(stream, B),
      RECOVERY_MS,
      "the durable consumer with the new filter",
    );
    return { ns, proxy, sink, running, ingress };
  }

  it(
    "the new version subscribes once the engine is back and gets every event accepted",
    async () => {
      const { proxy, sink, ingress } = await setUp();
      // Sent while the engine is unreachable: refused (503) until it can be kept and read.
      const during = Array.from({ length: 5 }, (_, k) => `b-during-${k}`);
      const sending = Promise.all(during.map((id) => sendUntilAccepted(ingress, id, B)));
      await sleep(500);
      proxy.restore();
      await sending;
      const after = Array.from({ length: 5 }, (_, k) => `b-after-${k}`);
      for (const id of after) await sendUntilAccepted(ingress, id, B);
      const wanted = [...during, ...after];
      await eventually(
        () => wanted.every((id) => ids(sink).includes(id)),
        RECOVERY_MS,
        `every accepted type-B event (got ${ids(sink).join(", ")})`,
      ).catch(() => undefined);
      expect(wanted.filter((id) => !ids(sink).includes(id))).toEqual([]);
    },
    TEST_MS,
  );

  it(
    "the trigger edited back to its old filter meanwhile gets every event accepted",
    async () => {
      const { ns, proxy, sink, running, ingress } = await setUp();
      // Back to type A before the engine returns: the old version is what the trigger asks for
      // again, but the durable it read was rebuilt for type B, and it stopped pulling.
      writeFileSync(running.file, manifests(ns, proxy.url, sink.url, A));
      expect(await running.reload()).toEqual([]);
      const during = Array.from({ length: 5 }, (_, k) => `a-during-${k}`);
      const sending = Promise.all(during.map((id) => sendUntilAccepted(ingress, id, A)));
      await sleep(500);
      proxy.restore();
      await sending;
      const after = Array.from({ length: 5 }, (_, k) => `a-after-${k}`);
      for (const id of after) await sendUntilAccepted(ingress, id, A);
      const wanted = [...during, ...after];
      await eventually(
        () => wanted.every((id) => ids(sink).includes(id)),
        RECOVERY_MS,
        `every accepted type-A event (got ${ids(sink).join(", ")})`,
      ).catch(() => undefined);
      expect(wanted.filter((id) => !ids(sink).includes(id))).toEqual([]);
    },
    TEST_MS,
  );
});

/**
 * Several processes share a trigger's durable. One that is cut off while another replaces the
 * durable for a new filter never hears the "409 Consumer Deleted" that would tell its old
 * version to stop; back, it pulls from the durable again, which now sends the new type.
 */
describe.skipIf(!NATS_URL)("NATS: an old version that missed its durable's new filter", () => {
  const fixture = new JetStreamFixture(NATS_URL!);
  afterAll(() => fixture.cleanup());
  const UNORDERED = { concurrency: 8, ordered: false } as const;
  const typed = (id: string, type: string) => createEvent({ ...testEvent(id).attributes, type });

  it(
    "leaves every event of the new type to the new version once it is back",
    async () => {
      const proxy = await startCuttingProxy(NATS_URL!);
      cleanups.push(() => proxy.close());
      const away = await fixture.backing({ url: proxy.url });
      const here = await fixture.backing();
      const stream = uniqueStream("missed");
      const name = `trigger.default.${uniqueName("missed")}`;
      const waiting = () =>
        fixture.inspect(
          async (nc) =>
            (
              await (
                await nc.jetstreamManager()
              ).consumers.info(jetStreamName(stream), durableName(name))
            ).num_waiting,
        );
      // Wants every type, so the stream keeps type-B events whoever reads them.
      const everything = new Recorder();
      await here.subscribe(
        stream,
        `trigger.default.${uniqueName("all")}`,
        everything.handler,
        UNORDERED,
      );
      const old = new Recorder();
      await away.subscribe(stream, name, old.handler, { ...UNORDERED, typeHint: A });
      await here.publish(stream, [typed("a-1", A)]);
      await waitFor(() => old.completed === 1, RECOVERY_MS, "the old version's event");
      await eventually(async () => (await waiting()) > 0, RECOVERY_MS, "its pull requests");

      proxy.cutNow();
      const fresh = new Recorder();
      await here.subscribe(stream, name, fresh.handler, { ...UNORDERED, typeHint: B });
      await eventually(async () => (await waiting()) > 0, RECOVERY_MS, "the new pull requests");
      const alone = await waiting();
      proxy.restore();
      await eventually(
        async () => (await waiting()) > alone,
        RECOVERY_MS,
        "the old version's pull requests, back",
      );

      const wanted = Array.from({ length: 40 }, (_, k) => `b-${k}`);
      for (let k = 0; k < wanted.length; k += 4) {
        await here.publish(
          stream,
          wanted.slice(k, k + 4).map((id) => typed(id, B)),
        );
      }
      await waitFor(
        () => wanted.every((id) => fresh.ids().includes(id)),
        RECOVERY_MS,
        "every type-B event at the new version",
      ).catch(() => undefined);
      expect(wanted.filter((id) => !fresh.ids().includes(id))).toEqual([]);
      expect(old.ids().filter((id) => id.startsWith("b-"))).toEqual([]);
    },
    TEST_MS,
  );
});

/**
 * The subscribe that replaces a durable for a new filter deletes it, then adds it again where
 * the old one stood (a stand-in holds that place in between). Cut off between the two, it fails
 * with the durable gone; the caller subscribes again once the engine is back.
 */
describe.skipIf(!NATS_URL)(
  "NATS: a filter change cut off between deleting and adding the durable",
  () => {
    const fixture = new JetStreamFixture(NATS_URL!);
    afterAll(() => fixture.cleanup());
    const UNORDERED = { concurrency: 8, ordered: false } as const;
    const typed = (id: string, type: string) => createEvent({ ...testEvent(id).attributes, type });

    it(
      "the subscribe made again starts where the replaced durable stood",
      async () => {
        const proxy = await startCuttingProxy(NATS_URL!);
        cleanups.push(() => proxy.close());
        const away = await fixture.backing({ url: proxy.url, subscribeTimeoutMs: "3000" });
        const here = await fixture.backing();
        const stream = uniqueStream("halfway");
        const name = `trigger.default.${uniqueName("halfway")}`;
        const durable = durableName(name);
        const old = new Recorder();
        const oldSubscription = await away.subscribe(stream, name, old.handler, {
          ...UNORDERED,
          typeHint: A,
        });
        await here.publish(stream, [typed("a-1", A)]);
        await waitFor(() => old.completed === 1, RECOVERY_MS, "the old version's event");
        proxy.cutAfterDeleting(jetStreamName(stream), durable);
        const fresh = new Recorder();
        const subscribe = () =>
          away.subscribe(stream, name, fresh.handler, { ...UNORDERED, typeHint: B });
        await expect(subscribe()).rejects.toThrow();
        expect(proxy.cut).toBe(true);
        const missing = await fixture.inspect(async (nc) =>
          (await nc.jetstreamManager()).consumers
            .info(jetStreamName(stream), durable)
            .then(() => false)
            .catch(() => true),
        );
        expect(missing).toBe(true);
        // Accepted meanwhile by another process, which has the new version: the stand-in keeps
        // them in the stream for the durable to come.
        const wanted = Array.from({ length: 5 }, (_, k) => `b-${k}`);
        await here.publish(
          stream,
          wanted.map((id) => typed(id, B)),
        );

        proxy.restore();
        // What the reconciler does: subscribe again until it succeeds.
        const deadline = Date.now() + RECOVERY_MS;
        let subscription: Awaited<ReturnType<typeof subscribe>> | undefined;
        while (subscription === undefined) {
          subscription = await subscribe().catch((error: unknown) => {
            if (Date.now() > deadline) throw error;
            return sleep(250).then(() => undefined);
          });
        }
        await oldSubscription.close(500);
        for (let k = 5; k < 10; k++) {
          wanted.push(`b-${k}`);
          await here.publish(stream, [typed(`b-${k}`, B)]);
        }
        await waitFor(
          () => wanted.every((id) => fresh.ids().includes(id)),
          RECOVERY_MS,
          "every type-B event at the new version",
        ).catch(() => undefined);
        expect(wanted.filter((id) => !fresh.ids().includes(id))).toEqual([]);
        await subscription.close(100);
      },
      TEST_MS,
    );
  },
);
