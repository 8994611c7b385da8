import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import type { CloudEvent } from "../../src/events/event.js";
import {
  Gate,
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "./conformance-support.js";
import { DELIVERY_MS, QUIET_MS, type SuiteHarness } from "./suite-harness.js";

/** Delivery cases: what reaches whom, how often, and what comes back after failures. */

const SHAPES: Array<[string, CloudEvent]> = [
  ["JSON data", testEvent("shape-json")],
  [
    "binary data holding every byte value",
    testEvent(
      "shape-binary",
      { datacontenttype: "application/octet-stream" },
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    ),
  ],
  ["no data", testEvent("shape-nodata", {}, undefined)],
  [
    "integer, boolean and non-ASCII extensions",
    testEvent("shape-extensions", { count: 42, flag: true, note: "héllo ✓ 日本" }),
  ],
  [
    "optional context attributes",
    testEvent("shape-optional", {
      subject: "orders/17",
      time: "2024-05-01T12:00:00.123Z",
      dataschema: "https://example.com/schema.json",
    }),
  ],
  [
    "a 256 KiB payload",
    testEvent(
      "shape-large",
      { datacontenttype: "application/octet-stream" },
      Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 7919) % 251)),
    ),
  ],
];

export function deliveryCases(h: SuiteHarness): void {
  it("answers ready and accepts an empty publish", async () => {
    expect(await h.backing().ready()).toBe(true);
    await h.backing().publish(uniqueStream("empty"), []);
  });

  it(
    "delivers each event once, with identical attributes and data bytes",
    async () => {
      const stream = uniqueStream("shapes");
      const recorder = new Recorder();
      await h.subscribe(stream, uniqueName("shapes"), recorder);
      const [first, ...rest] = SHAPES.map(([, event]) => event);
      await h.backing().publish(stream, [first!]);
      await h.backing().publish(stream, rest);
      const ids = SHAPES.map(([, event]) => idOf(event));
      await waitFor(
        () => recorder.hasAll(ids),
        DELIVERY_MS,
        "every shape",
        () => recorder.ids(),
      );
      await sleep(QUIET_MS);
      expect(recorder.ids().sort()).toEqual([...ids].sort());
      for (const [shape, sent] of SHAPES) {
        const got = recorder.received.find((r) => idOf(r.event) === idOf(sent))!;
        expect(got.deliveryCount, shape).toBe(1);
        expect(got.event.attributes, shape).toEqual(sent.attributes);
        expect(got.event.data === undefined, shape).toBe(sent.data === undefined);
        if (sent.data) expect(Buffer.compare(got.event.data!, sent.data), shape).toBe(0);
      }
    },
    h.testTimeout,
  );

  it(
    "gives a new consumer the events published after it subscribed, not those before",
    async () => {
      const stream = uniqueStream("late");
      const early = new Recorder();
      await h.subscribe(stream, uniqueName("early"), early);
      await h.backing().publish(stream, testEvents("before", 3));
      await waitFor(() => early.received.length === 3, DELIVERY_MS, "the early consumer");
      const late = new Recorder();
      await h.subscribe(stream, uniqueName("late"), late);
      const after = testEvents("after", 3);
      await h.backing().publish(stream, after);
      await waitFor(
        () => late.hasAll(after.map(idOf)),
        DELIVERY_MS,
        "later events",
        () => late.ids(),
      );
      await sleep(QUIET_MS);
      expect(late.ids().sort()).toEqual(after.map(idOf).sort());
    },
    h.testTimeout,
  );

  it(
    "gives every event to each of two differently named consumers",
    async () => {
      const stream = uniqueStream("independent");
      const a = new Recorder();
      const b = new Recorder();
      await h.subscribe(stream, uniqueName("a"), a);
      await h.subscribe(stream, uniqueName("b"), b);
      const events = testEvents("fan", 20);
      await h.backing().publish(stream, events);
      const ids = events.map(idOf);
      await waitFor(
        () => a.hasAll(ids) && b.hasAll(ids),
        DELIVERY_MS,
        "both consumers",
        () => ({
          a: a.received.length,
          b: b.received.length,
        }),
      );
      await sleep(QUIET_MS);
      expect(a.ids().sort()).toEqual([...ids].sort());
      expect(b.ids().sort()).toEqual([...ids].sort());
    },
    h.testTimeout,
  );

  it(
    "splits events between subscriptions sharing a name: each event to exactly one",
    async () => {
      const stream = uniqueStream("shared");
      const consumer = uniqueName("shared");
      const a = new Recorder(() => sleep(5));
      const b = new Recorder(() => sleep(5));
      await h.subscribe(stream, consumer, a);
      await h.subscribe(stream, consumer, b);
      const events = testEvents("work", 40);
      await h.backing().publish(stream, events);
      const ids = events.map(idOf);
      const union = () => [...a.ids(), ...b.ids()];
      await waitFor(
        () => new Set(union()).size === ids.length,
        DELIVERY_MS,
        "all work",
        () => ({
          a: a.received.length,
          b: b.received.length,
        }),
      );
      await sleep(QUIET_MS);
      expect(union().sort()).toEqual([...ids].sort());
    },
    h.testTimeout,
  );

  it(
    "resumes a consumer from its position after all its subscriptions closed",
    async () => {
      const stream = uniqueStream("resume");
      const consumer = uniqueName("resume");
      const first = new Recorder();
      const subscription = await h.subscribe(stream, consumer, first);
      const before = testEvents("acked", 3);
      await h.backing().publish(stream, before);
      await waitFor(() => first.completed === 3, DELIVERY_MS, "first deliveries");
      await subscription.close(5_000);
      const during = testEvents("while-closed", 3);
      await h.backing().publish(stream, during);
      const second = new Recorder();
      await h.subscribe(stream, consumer, second);
      await waitFor(
        () => second.hasAll(during.map(idOf)),
        DELIVERY_MS,
        "events published while closed",
        () => second.ids(),
      );
      await sleep(QUIET_MS);
      expect(second.ids().sort()).toEqual(during.map(idOf).sort());
      expect(first.ids().sort()).toEqual(before.map(idOf).sort());
    },
    h.testTimeout,
  );

  it(
    "redelivers an event whose handler rejected, with a higher deliveryCount",
    async () => {
      const stream = uniqueStream("reject");
      const failOnce = new Set(["r-1", "r-3"]);
      const recorder = new Recorder(async (event) => {
        if (failOnce.delete(idOf(event))) throw new Error("subscriber unavailable");
      });
      await h.subscribe(stream, uniqueName("reject"), recorder);
      const events = testEvents("r", 5);
      await h.backing().publish(stream, events);
      const deliveriesOf = (id: string) => recorder.received.filter((r) => idOf(r.event) === id);
      await waitFor(
        () => deliveriesOf("r-1").length >= 2 && deliveriesOf("r-3").length >= 2,
        DELIVERY_MS + h.redeliveryMs,
        "redeliveries of r-1 and r-3",
        () => recorder.received.map((r) => [idOf(r.event), r.deliveryCount]),
      );
      await sleep(QUIET_MS);
      for (const id of ["r-1", "r-3"]) {
        const [firstTry, retry] = deliveriesOf(id);
        expect(firstTry!.deliveryCount, id).toBe(1);
        expect(retry!.deliveryCount, id).toBeGreaterThanOrEqual(2);
      }
      for (const id of ["r-0", "r-2", "r-4"]) expect(deliveriesOf(id), id).toHaveLength(1);
    },
    h.testTimeout,
  );

  it(
    "hands an event whose handler never finished to the next subscription of that name",
    async () => {
      const stream = uniqueStream("abandon");
      const consumer = uniqueName("abandon");
      const stuck = new Gate();
      const dying = new Recorder(() => stuck.promise);
      const subscription = await h.subscribe(stream, consumer, dying);
      await h.backing().publish(stream, [testEvent("orphan")]);
      await waitFor(() => dying.inFlight === 1, DELIVERY_MS, "the first delivery");
      const closing = Date.now();
      await subscription.close(0);
      expect(Date.now() - closing).toBeLessThan(5_000);

      const successor = new Recorder();
      await h.subscribe(stream, consumer, successor);
      await waitFor(
        () => successor.ids().includes("orphan"),
        DELIVERY_MS + h.redeliveryMs,
        "the orphaned event at the successor",
      );
      // The abandoned handler finishing late must not disturb the consumer.
      stuck.release();
      await h.backing().publish(stream, [testEvent("after-orphan")]);
      await waitFor(
        () => successor.ids().includes("after-orphan"),
        DELIVERY_MS,
        "the next event at the successor",
      );
    },
    h.testTimeout,
  );
}
