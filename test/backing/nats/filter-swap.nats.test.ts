import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { durableName, eventSubject, jetStreamName } from "../../../src/backing/nats/naming.js";
import { createEvent } from "../../../src/events/event.js";
import {
  Gate,
  Recorder,
  testEvent,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import { JetStreamFixture } from "./jetstream-fixture.js";

const url = serviceUrl("nats");
const UNORDERED = { concurrency: 8, ordered: false } as const;
const DELIVERY_MS = 30_000;
const ROUNDS = 8;
const A = "dev.example.a";
const B = "dev.example.b";

const typed = (id: string, type: string) => createEvent({ ...testEvent(id).attributes, type });

describe.skipIf(!url)(
  "NATS: a trigger's type hint changes while the old version still runs",
  () => {
    const fixture = new JetStreamFixture(url!);
    afterAll(() => fixture.cleanup());

    // The runtime subscribes the new version before it stops the old one (consumer-set.ts). The
    // new one rebuilds the shared durable for its filter; the old one's waiting pull requests are
    // answered "409 Consumer Deleted", and its recovery must not put the old filter back.
    it("the new version keeps the durable with its filter and gets every event of its type", async () => {
      const backing = await fixture.backing();
      for (let round = 0; round < ROUNDS; round++) {
        const stream = uniqueStream("swap");
        const name = `trigger.default.${uniqueName("swap")}`;
        // Wants every type, so the stream keeps type-B events published before the new filter.
        const everything = new Recorder();
        await backing.subscribe(
          stream,
          `trigger.default.${uniqueName("all")}`,
          everything.handler,
          UNORDERED,
        );
        const before = new Recorder();
        const old = await backing.subscribe(stream, name, before.handler, {
          ...UNORDERED,
          typeHint: A,
        });
        await backing.publish(stream, [typed("a-1", A)]);
        await waitFor(() => before.completed === 1, DELIVERY_MS, "the old version's event");
        // Its pull requests wait on the server, so deleting the durable answers them.
        await fixture.inspect(async (nc) => {
          const jsm = await nc.jetstreamManager();
          const info = () => jsm.consumers.info(jetStreamName(stream), durableName(name));
          while ((await info()).num_waiting === 0) await sleep(10);
        });
        const after = new Recorder();
        const wanted: string[] = [];
        const publishing = (async () => {
          for (let k = 0; k < 5; k++) {
            wanted.push(`b-${k}`);
            await backing.publish(stream, [typed(`b-${k}`, B), typed(`a2-${k}`, A)]);
          }
        })();
        const fresh = await backing.subscribe(stream, name, after.handler, {
          ...UNORDERED,
          typeHint: B,
        });
        await old.close(500);
        await publishing;
        for (let k = 5; k < 10; k++) {
          wanted.push(`b-${k}`);
          await backing.publish(stream, [typed(`b-${k}`, B)]);
        }
        await waitFor(
          () => wanted.every((id) => after.ids().includes(id)),
          DELIVERY_MS,
          `round ${round}: every type-B event at the new version`,
          () => after.ids(),
        );
        const filter = await fixture.inspect(async (nc) => {
          const jsm = await nc.jetstreamManager();
          return (await jsm.consumers.info(jetStreamName(stream), durableName(name))).config
            .filter_subject;
        });
        expect(filter).toBe(eventSubject(stream, B));
        await fresh.close(100);
      }
    }, 120_000);

    // A consumer deleted under a running subscription (by hand, or the engine lost it) comes
    // back where the subscription stood, not at the next event published: the events accepted
    // while it was missing stay in the stream for the other trigger, and are this one's too.
    it("a consumer deleted under a running subscription comes back without skipping what was published meanwhile", async () => {
      const proxy = await startTcpProxy(url!);
      try {
        const slow = await fixture.backing({ url: proxy.url });
        const producer = await fixture.backing();
        const stream = uniqueStream("lost");
        const name = `trigger.default.${uniqueName("lost")}`;
        // Holds every event unacked, so the stream keeps them while the consumer is missing.
        const never = new Gate();
        const everything = new Recorder(() => never.promise);
        await producer.subscribe(
          stream,
          `trigger.default.${uniqueName("all")}`,
          everything.handler,
          UNORDERED,
        );
        const got = new Recorder();
        await slow.subscribe(stream, name, got.handler, UNORDERED);
        await producer.publish(stream, [testEvent("l-0")]);
        await waitFor(() => got.completed === 1, DELIVERY_MS, "the first event");
        await fixture.inspect(async (nc) => {
          const jsm = await nc.jetstreamManager();
          const info = () => jsm.consumers.info(jetStreamName(stream), durableName(name));
          while ((await info()).num_waiting === 0) await sleep(10);
          // The subscription hears of the deletion only once these events are stored.
          proxy.setDelay(1_000);
          await jsm.consumers.delete(jetStreamName(stream), durableName(name));
        });
        const meanwhile = ["l-1", "l-2", "l-3"];
        await producer.publish(
          stream,
          meanwhile.map((id) => testEvent(id)),
        );
        proxy.setDelay(0);
        await waitFor(
          () => meanwhile.every((id) => got.ids().includes(id)),
          DELIVERY_MS,
          "every event published while the consumer was missing",
          () => got.ids(),
        );
        never.release();
      } finally {
        await proxy.cut();
      }
    });
  },
);
