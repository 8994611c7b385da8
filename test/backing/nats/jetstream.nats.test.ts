import { setTimeout as sleep } from "node:timers/promises";
import {
  AckPolicy,
  type ConsumerInfo,
  DeliverPolicy,
  type JetStreamManager,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamInfo,
} from "nats";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Backing, ConsumeMeta } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/nats/index.js";
import { durableName, jetStreamName, jetStreamSubjects } from "../../../src/backing/nats/naming.js";
import { PayloadTooLargeError } from "../../../src/backing/nats/publisher.js";
import { type CloudEvent, createEvent, withAttributes } from "../../../src/events/event.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  Gate,
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { startTcpProxy } from "../../support/tcp-proxy.js";
import { JetStreamFixture } from "./jetstream-fixture.js";

const url = serviceUrl("nats");
const UNORDERED = { concurrency: 8, ordered: false } as const;
const DELIVERY_MS = 10_000;
const QUIET_MS = 500;

describe.skipIf(!url)("NATS JetStream backing", () => {
  describe("provisioning", () => {
    const fixture = new JetStreamFixture(url!);
    const stream = uniqueStream("provision");
    const consumer = `trigger.default.${uniqueName("provision")}`;
    let streamInfo: StreamInfo;
    let consumerInfo: ConsumerInfo;
    const early = new Recorder();

    beforeAll(async () => {
      const backing = await fixture.backing({ ackWaitMs: "7000", maxAgeMs: "3600000" });
      await backing.publish(stream, [testEvent("before-any-consumer")]);
      await backing.subscribe(stream, consumer, early.handler, { concurrency: 5, ordered: false });
      [streamInfo, consumerInfo] = await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        return [
          await jsm.streams.info(jetStreamName(stream)),
          await jsm.consumers.info(jetStreamName(stream), durableName(consumer)),
        ] as const;
      });
    });
    afterAll(() => fixture.cleanup());

    it.each<[string, () => unknown, unknown]>([
      [
        "the stream captures one subject per event type, under its own token",
        () => streamInfo.config.subjects,
        [jetStreamSubjects(stream)],
      ],
      [
        "a consumer without a type hint has no filter: it gets every type",
        () => consumerInfo.config.filter_subject,
        undefined,
      ],
      [
        "events leave once every consumer acked them",
        () => streamInfo.config.retention,
        RetentionPolicy.Interest,
      ],
      ["events survive an engine restart", () => streamInfo.config.storage, StorageType.File],
      [
        "producer retries within two minutes are stored once",
        () => streamInfo.config.duplicate_window,
        nanos(120_000),
      ],
      [
        "the consumer is durable under the mapped trigger name",
        () => consumerInfo.config.durable_name,
        durableName(consumer),
      ],
      ["each event is acked on its own", () => consumerInfo.config.ack_policy, AckPolicy.Explicit],
      [
        "a new consumer starts at events published after it",
        () => consumerInfo.config.deliver_policy,
        DeliverPolicy.New,
      ],
      ["the ack wait comes from the settings", () => consumerInfo.config.ack_wait, nanos(7_000)],
      ["redelivery never gives up", () => consumerInfo.config.max_deliver, -1],
      ["the consumer is pulled, not pushed", () => consumerInfo.config.deliver_subject, undefined],
      ["events older than maxAgeMs are dropped", () => streamInfo.config.max_age, nanos(3_600_000)],
      [
        "a consumer nobody pulls from for maxAgeMs is removed",
        () => consumerInfo.config.inactive_threshold,
        nanos(3_600_000),
      ],
    ])("%s", (_, actual, expected) => {
      expect(actual()).toEqual(expected);
    });

    it("leaves room in max_ack_pending for several processes' windows", () => {
      expect(consumerInfo.config.max_ack_pending).toBeGreaterThanOrEqual(5 * 2);
    });

    it("does not deliver what was published before the consumer existed", async () => {
      await sleep(QUIET_MS);
      expect(early.ids()).toEqual([]);
    });
  });

  describe("with a fresh stream", () => {
    let fixture: JetStreamFixture;
    let stream: string;

    beforeEach(() => {
      fixture = new JetStreamFixture(url!);
      stream = uniqueStream("nats");
    });
    afterEach(async () => {
      Gate.releaseAll();
      await fixture.cleanup();
    });

    it("lets two processes provision the same consumer at once and share it", async () => {
      const [a, b] = [await fixture.backing(), await fixture.backing()];
      const name = uniqueName("both");
      const ra = new Recorder();
      const rb = new Recorder();
      await Promise.all([
        a.subscribe(stream, name, ra.handler, UNORDERED),
        b.subscribe(stream, name, rb.handler, UNORDERED),
      ]);
      const events = testEvents("e", 30);
      await a.publish(stream, events);
      await waitFor(() => ra.received.length + rb.received.length >= 30, DELIVERY_MS, "all events");
      await sleep(QUIET_MS);
      expect([...ra.ids(), ...rb.ids()].sort()).toEqual(events.map(idOf).sort());
      const consumers = await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        return (await jsm.consumers.list(jetStreamName(stream)).next()).map((c) => c.name);
      });
      expect(consumers).toEqual([durableName(name)]);
    });

    it("brings an existing consumer up to date when a process starts with new settings", async () => {
      const name = uniqueName("update");
      const first = await fixture.backing({ ackWaitMs: "7000", maxAgeMs: "3600000" });
      await first.subscribe(stream, name, new Recorder().handler, {
        concurrency: 1,
        ordered: false,
      });
      const second = await fixture.backing({ ackWaitMs: "9000", maxAgeMs: "7200000" });
      await second.subscribe(stream, name, new Recorder().handler, {
        concurrency: 200,
        ordered: false,
      });
      const config = await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        return (await jsm.consumers.info(jetStreamName(stream), durableName(name))).config;
      });
      expect(config.ack_wait).toBe(nanos(9_000));
      expect(config.inactive_threshold).toBe(nanos(7_200_000));
      expect(config.max_ack_pending).toBeGreaterThanOrEqual(200);
    });

    const original = testEvent("dup", {
      knativebrokerttl: 255,
      knativearrivaltime: "2024-01-01T00:00:00Z",
    });
    it.each<[string, CloudEvent, number]>([
      [
        "a producer retry (same event, later arrival time) is stored once",
        withAttributes(original, { knativearrivaltime: "2024-01-01T00:00:09Z" }),
        1,
      ],
      [
        "an echoed reply (same source and id, one hop less TTL) is stored again",
        withAttributes(original, { knativebrokerttl: 254 }),
        2,
      ],
      [
        "the event's dead letter sent back to the broker is stored again",
        withAttributes(original, { knativeerrorcode: 500 }),
        2,
      ],
    ])("deduplicates publishes: %s", async (_, second, stored) => {
      const backing = await fixture.backing();
      const recorder = new Recorder();
      await backing.subscribe(stream, uniqueName("dedupe"), recorder.handler, UNORDERED);
      await backing.publish(stream, [original]);
      await backing.publish(stream, [second]);
      await backing.publish(stream, [testEvent("marker")]);
      await waitFor(() => recorder.ids().includes("marker"), DELIVERY_MS, "the marker event");
      await sleep(QUIET_MS);
      expect(recorder.ids().filter((id) => id === "dup")).toHaveLength(stored);
    });

    it.each([
      ["keeps its event while it calls keepAlive: no other process receives it", true],
      [
        "loses its event to another process after the ack wait when it never calls keepAlive",
        false,
      ],
    ])("a live but slow handler %s", async (_, keepAlive) => {
      const ackWaitMs = 1_000;
      const a = await fixture.backing({ ackWaitMs: String(ackWaitMs) });
      const b = await fixture.backing({ ackWaitMs: String(ackWaitMs) });
      const name = uniqueName("slow");
      const slow = new Recorder(async (_event, meta: ConsumeMeta) => {
        for (let waited = 0; waited < 3.5 * ackWaitMs; waited += 250) {
          if (keepAlive) meta.keepAlive();
          await sleep(250);
        }
      });
      await a.subscribe(stream, name, slow.handler, { concurrency: 1, ordered: false });
      await a.publish(stream, [testEvent("slow-one")]);
      await waitFor(() => slow.inFlight === 1, DELIVERY_MS, "the slow delivery");
      const other = new Recorder();
      await b.subscribe(stream, name, other.handler, UNORDERED);
      await waitFor(() => slow.completed === 1, DELIVERY_MS, "the slow handler to finish");
      await sleep(QUIET_MS);
      if (keepAlive) {
        expect(other.received).toEqual([]);
        expect(slow.received.map((r) => r.deliveryCount)).toEqual([1]);
      } else {
        expect(other.ids()).toContain("slow-one");
        expect(other.received[0]!.deliveryCount).toBeGreaterThanOrEqual(2);
      }
    });

    it("gives the events a vanished process held to another process after the ack wait", async () => {
      const ackWaitMs = 2_000;
      const proxy = await startTcpProxy(url!);
      const doomed = fixture.track(
        await createBacking(
          { kind: "nats", settings: { url: proxy.url, ackWaitMs: String(ackWaitMs) } },
          { logger: silentLogger() },
        ),
      );
      const survivor = await fixture.backing({ ackWaitMs: String(ackWaitMs) });
      const name = uniqueName("crash");
      const never = new Gate();
      const held = new Recorder(() => never.promise);
      await doomed.subscribe(stream, name, held.handler, UNORDERED);
      const events = testEvents("held", 3);
      await survivor.publish(stream, events);
      await waitFor(() => held.inFlight === 3, DELIVERY_MS, "the doomed process to hold all three");
      const cutAt = Date.now();
      await proxy.cut();
      const heir = new Recorder();
      await survivor.subscribe(stream, name, heir.handler, UNORDERED);
      await waitFor(
        () => heir.hasAll(events.map(idOf)),
        DELIVERY_MS + ackWaitMs,
        "the held events at the survivor",
        () => heir.ids(),
      );
      expect(Date.now() - cutAt).toBeLessThan(ackWaitMs + 5_000);
      expect(heir.received.every((r) => r.deliveryCount === 2)).toBe(true);
      never.release();
      await doomed.close();
    });

    it("keeps pulling only what it can run, leaving the rest to other processes", async () => {
      const a = await fixture.backing();
      const b = await fixture.backing();
      const name = uniqueName("window");
      const stuck = new Gate();
      const busy = new Recorder(() => stuck.promise);
      await a.subscribe(stream, name, busy.handler, { concurrency: 2, ordered: false });
      const events = testEvents("w", 10);
      await a.publish(stream, events);
      await waitFor(() => busy.inFlight === 2, DELIVERY_MS, "a full window");
      const state = await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        return jsm.consumers.info(jetStreamName(stream), durableName(name));
      });
      expect(state.num_ack_pending).toBe(2);
      expect(state.num_pending).toBe(8);
      const helper = new Recorder();
      await b.subscribe(stream, name, helper.handler, UNORDERED);
      await waitFor(
        () => helper.received.length === 8,
        DELIVERY_MS,
        "the other process to take the rest",
      );
      expect(new Set([...busy.ids(), ...helper.ids()]).size).toBe(10);
    });

    it("ordered: retries a rejected event in place so later events of its key wait, others go on", async () => {
      const backing = await fixture.backing({ redeliveryDelayMs: "300" });
      let failed = false;
      const recorder = new Recorder(async (event) => {
        if (idOf(event) === "o-0" && !failed) {
          failed = true;
          throw new Error("subscriber down");
        }
      });
      await backing.subscribe(stream, uniqueName("ordered"), recorder.handler, {
        concurrency: 4,
        ordered: true,
      });
      const events = testEvents("o", 8, (i) => ({ partitionkey: `k${i % 2}` }));
      await backing.publish(stream, events);
      await waitFor(
        () => recorder.completed >= 9,
        DELIVERY_MS,
        "every event and the retry",
        () => recorder.ids(),
      );
      const seen = recorder.received.map((r) => `${idOf(r.event)}#${r.deliveryCount}`);
      expect(seen.filter((s) => /^o-[0246]#/.test(s))).toEqual([
        "o-0#1",
        "o-0#2",
        "o-2#1",
        "o-4#1",
        "o-6#1",
      ]);
      expect(seen.indexOf("o-1#1")).toBeLessThan(seen.indexOf("o-0#2"));
    });

    it("lets the engine skip other types for a consumer with a type hint, and follows a changed or dropped hint", async () => {
      const backing = await fixture.backing();
      const hinted = new Recorder();
      const everything = new Recorder();
      const name = uniqueName("hinted");
      const first = await backing.subscribe(stream, name, hinted.handler, {
        ...UNORDERED,
        typeHint: "dev.example.wanted",
      });
      await backing.subscribe(stream, uniqueName("all"), everything.handler, UNORDERED);
      const typed = (id: string, type: string) =>
        createEvent({ ...testEvent(id).attributes, type });
      await backing.publish(stream, [
        typed("w-1", "dev.example.wanted"),
        typed("o-1", "dev.example.other"),
        typed("w-2", "dev.example.wanted"),
      ]);
      await waitFor(
        () => everything.received.length === 3,
        DELIVERY_MS,
        "every event at the plain consumer",
      );
      await waitFor(() => hinted.received.length === 2, DELIVERY_MS, "the wanted type");
      await sleep(QUIET_MS);
      expect(hinted.ids()).toEqual(["w-1", "w-2"]);

      await first.close();
      const rehinted = new Recorder();
      const second = await backing.subscribe(stream, name, rehinted.handler, {
        ...UNORDERED,
        typeHint: "dev.example.other",
      });
      await backing.publish(stream, [
        typed("w-3", "dev.example.wanted"),
        typed("o-2", "dev.example.other"),
      ]);
      await waitFor(() => rehinted.ids().includes("o-2"), DELIVERY_MS, "the newly hinted type");
      await sleep(QUIET_MS);
      expect(rehinted.ids()).toEqual(["o-2"]);

      await second.close();
      const unhinted = new Recorder();
      await backing.subscribe(stream, name, unhinted.handler, UNORDERED);
      await backing.publish(stream, [
        typed("w-4", "dev.example.wanted"),
        typed("o-3", "dev.example.other"),
      ]);
      await waitFor(() => unhinted.received.length >= 2, DELIVERY_MS, "both types without a hint");
      await sleep(QUIET_MS);
      expect(unhinted.ids().sort()).toEqual(["o-3", "w-4"]);
    });

    it("a consumer whose type hint changed gets its new type at once, with no other consumer keeping the old one", async () => {
      // NATS 2.9.10 kept waking a consumer updated in place only for its first filter: o-1 then
      // waited for the pull request's idle heartbeat (15 s), unless a stored w-* woke it first.
      const backing = await fixture.backing();
      const name = uniqueName("rehinted");
      const typed = (id: string, type: string) =>
        createEvent({ ...testEvent(id).attributes, type });
      const first = new Recorder();
      const old = await backing.subscribe(stream, name, first.handler, {
        ...UNORDERED,
        typeHint: "dev.example.wanted",
      });
      await backing.publish(stream, [typed("w-1", "dev.example.wanted")]);
      await waitFor(() => first.completed === 1, DELIVERY_MS, "the first hint's event");
      await old.close();
      const second = new Recorder();
      await backing.subscribe(stream, name, second.handler, {
        ...UNORDERED,
        typeHint: "dev.example.other",
      });
      // A pull request arriving after o-1 would wake the consumer; make sure it came first.
      await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        const info = () => jsm.consumers.info(jetStreamName(stream), durableName(name));
        while ((await info()).num_waiting === 0) await sleep(10);
      });
      await backing.publish(stream, [
        typed("w-2", "dev.example.wanted"),
        typed("o-1", "dev.example.other"),
      ]);
      await waitFor(
        () => second.received.length === 1,
        2_000,
        "the new type",
        () => second.ids(),
      );
      await sleep(QUIET_MS);
      expect(second.ids()).toEqual(["o-1"]);
      const consumers = await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        const infos = await jsm.consumers.list(jetStreamName(stream)).next();
        return infos.map((c) => c.name);
      });
      expect(consumers).toEqual([durableName(name)]);
    });

    it.each<[string, string | undefined, string | undefined]>([
      ["dropped", "dev.example.wanted", undefined],
      ["first given", undefined, "dev.example.wanted"],
    ])(
      "an event left unfinished comes again after its consumer's type hint is %s",
      async (_, before, after) => {
        const backing = await fixture.backing();
        const name = uniqueName("unfinished");
        const never = new Gate();
        const held = new Recorder(() => never.promise);
        const closing = await backing.subscribe(stream, name, held.handler, {
          ...UNORDERED,
          typeHint: before,
        });
        await backing.publish(stream, [
          createEvent({ ...testEvent("u-1").attributes, type: "dev.example.wanted" }),
        ]);
        await waitFor(() => held.inFlight === 1, DELIVERY_MS, "the event in its handler");
        await closing.close(100);
        const heir = new Recorder();
        await backing.subscribe(stream, name, heir.handler, { ...UNORDERED, typeHint: after });
        await waitFor(() => heir.ids().includes("u-1"), DELIVERY_MS, "the unfinished event again");
        never.release();
      },
    );

    it.each<[string, boolean]>([
      ["still unread in its socket when it closes", true],
      ["read and waiting behind the held one when it closes", false],
    ])(
      "a closing subscription gives back at once the events it has not started: %s",
      async (_, unread) => {
        const backing = await fixture.backing(); // the default ack wait: 30 s
        const producer = await fixture.backing();
        const name = uniqueName("handback");
        // Ordered on one key: a window of 16 is asked for while the handler holds the first.
        const ordered = { concurrency: 1, ordered: true } as const;
        const never = new Gate();
        const held = new Recorder(() => never.promise);
        const old = await backing.subscribe(stream, name, held.handler, ordered);
        await producer.publish(stream, [testEvent("h-0", { partitionkey: "k" })]);
        await waitFor(() => held.inFlight === 1, DELIVERY_MS, "the first event in its handler");
        const rest = testEvents("h", 6, () => ({ partitionkey: "k" })).slice(1);
        const publishing = producer.publish(stream, rest);
        if (unread) {
          // The publish leaves from a setImmediate queued before this one. Block this thread
          // while the server stores the events and pushes them into the pull inbox, then close
          // in the same turn: they are read only after close() began, as on a reload under load.
          await new Promise((resolve) => setImmediate(resolve));
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
        } else {
          await publishing;
          await fixture.inspect(async (nc) => {
            const jsm = await nc.jetstreamManager();
            const info = () => jsm.consumers.info(jetStreamName(stream), durableName(name));
            while ((await info()).num_ack_pending < 6) await sleep(10);
          });
          await sleep(100);
        }
        const closed = old.close(200);
        await publishing;
        const heir = new Recorder();
        await backing.subscribe(stream, name, heir.handler, ordered);
        await waitFor(
          () => heir.hasAll(rest.map(idOf)),
          2_000,
          "the events not started at the next subscription, well within the ack wait",
          () => heir.ids(),
        );
        await closed;
        // The event its handler still held goes back when the grace runs out, as before.
        await waitFor(() => heir.ids().includes("h-0"), DELIVERY_MS, "the held event again");
        await sleep(QUIET_MS);
        expect(held.ids()).toEqual(["h-0"]);
        expect(heir.ids().sort()).toEqual(["h-0", ...rest.map(idOf)]);
        expect(heir.received.every((r) => r.deliveryCount === 2)).toBe(true);
        never.release();
      },
    );

    it.each<[string, (jsm: JetStreamManager, stream: string, durable: string) => Promise<unknown>]>(
      [
        ["its consumer", (jsm, name, durable) => jsm.consumers.delete(name, durable)],
        ["its whole stream", (jsm, name) => jsm.streams.delete(name)],
      ],
    )("provisions again by itself when an operator deletes %s", async (_, remove) => {
      const backing = await fixture.backing();
      const name = uniqueName("deleted");
      const recorder = new Recorder();
      await backing.subscribe(stream, name, recorder.handler, UNORDERED);
      await fixture.inspect(async (nc) => {
        const jsm = await nc.jetstreamManager();
        await remove(jsm, jetStreamName(stream), durableName(name));
        const deadline = Date.now() + DELIVERY_MS;
        for (;;) {
          const back = await jsm.consumers.info(jetStreamName(stream), durableName(name)).then(
            () => true,
            () => false,
          );
          if (back) break;
          if (Date.now() > deadline) throw new Error("the consumer did not come back");
          await sleep(50);
        }
      });
      await backing.publish(stream, [testEvent("after-delete")]);
      await waitFor(() => recorder.ids().includes("after-delete"), DELIVERY_MS, "the next event");
    });

    it.each<[string, number, boolean]>([
      ["an event whose stored form fits the server's max_payload is accepted", 512 * 1024, true],
      ["an event over the server's max_payload is refused naming data", 900 * 1024, false],
    ])("%s", async (_, bytes, accepted) => {
      const backing: Backing = await fixture.backing();
      const event = testEvent(
        "big",
        { datacontenttype: "application/octet-stream" },
        Buffer.alloc(bytes, 7),
      );
      const outcome = backing.publish(stream, [event]);
      if (accepted) await expect(outcome).resolves.toBeUndefined();
      else
        await expect(outcome).rejects.toMatchObject({
          name: PayloadTooLargeError.name,
          field: "data",
        });
    });
  });
});
