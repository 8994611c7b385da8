import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import type { Subscription } from "../../src/backing/backing.js";
import {
  Gate,
  idOf,
  Recorder,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "./conformance-support.js";
import { DELIVERY_MS, QUIET_MS, type SuiteHarness } from "./suite-harness.js";

/** Flow-control cases: ordering, concurrency bounds, draining on close, isolation of consumers. */
export function flowControlCases(h: SuiteHarness): void {
  it.each([
    ["events sharing a partitionkey run one at a time in publish order, keys in parallel", 4],
    ["events without a partitionkey run one at a time per consumer, in publish order", 0],
  ])(
    "ordered mode: %s",
    async (_, keys) => {
      const stream = uniqueStream("ordered");
      const keyOf = (i: number) => (keys === 0 ? undefined : `k${i % keys}`);
      const events = testEvents("o", 24, (i): Record<string, string> => {
        const key = keyOf(i);
        return key === undefined ? {} : { partitionkey: key };
      });
      const busy = new Map<string, number>();
      let overlapsWithinKey = 0;
      const recorder = new Recorder(async (event) => {
        const key = String(event.attributes["partitionkey"]);
        busy.set(key, (busy.get(key) ?? 0) + 1);
        if (busy.get(key)! > 1) overlapsWithinKey++;
        await sleep(15);
        busy.set(key, busy.get(key)! - 1);
      });
      await h.subscribe(stream, uniqueName("ordered"), recorder, { concurrency: 8, ordered: true });
      await h.backing().publish(stream, events);
      await waitFor(
        () => recorder.completed >= events.length,
        DELIVERY_MS,
        "every event",
        () => recorder.ids(),
      );

      expect(overlapsWithinKey).toBe(0);
      expect(recorder.received.every((r) => r.deliveryCount === 1)).toBe(true);
      const keysSeen = new Set(events.map((e) => String(e.attributes["partitionkey"])));
      for (const key of keysSeen) {
        const inKey = (list: string[]) =>
          list.filter((id) => String(keyOf(Number(id.slice(2)))) === key);
        expect(inKey(recorder.ids()), `order within ${key}`).toEqual(inKey(events.map(idOf)));
      }
      if (keys > 1) expect(recorder.maxInFlight).toBeGreaterThan(1);
      else expect(recorder.maxInFlight).toBe(1);
    },
    h.testTimeout,
  );

  it.each([1, 3, 8])(
    "unordered mode with concurrency %i keeps exactly that many handlers in flight while events wait",
    async (concurrency) => {
      const stream = uniqueStream("bound");
      const gate = new Gate();
      const recorder = new Recorder(() => gate.promise);
      await h.subscribe(stream, uniqueName("bound"), recorder, { concurrency, ordered: false });
      const events = testEvents("c", concurrency * 3 + 2);
      await h.backing().publish(stream, events);
      await waitFor(
        () => recorder.inFlight >= concurrency,
        DELIVERY_MS,
        "a full window",
        () => ({
          inFlight: recorder.inFlight,
        }),
      );
      await sleep(QUIET_MS);
      expect(recorder.maxInFlight).toBe(concurrency);
      gate.release();
      await waitFor(() => recorder.completed >= events.length, DELIVERY_MS, "every event");
      expect(recorder.maxInFlight).toBe(concurrency);
    },
    h.testTimeout,
  );

  it.each<[string, (subscription: Subscription, h: SuiteHarness) => Promise<void>]>([
    ["Subscription.close(grace)", (subscription) => subscription.close(10_000)],
    ["Backing.close()", (_, harness) => harness.backing().close()],
  ])(
    "%s waits for in-flight handlers to finish before it resolves",
    async (_, closer) => {
      const stream = uniqueStream("drain");
      const recorder = new Recorder(() => sleep(300));
      const subscription = await h.subscribe(stream, uniqueName("drain"), recorder, {
        concurrency: 4,
        ordered: false,
      });
      await h.backing().publish(stream, testEvents("d", 4));
      await waitFor(() => recorder.inFlight >= 1, DELIVERY_MS, "a handler in flight");
      await closer(subscription, h);
      expect(recorder.inFlight).toBe(0);
      expect(recorder.completed).toBe(recorder.received.length);
    },
    h.testTimeout,
  );

  it(
    "a closed subscription takes no more events",
    async () => {
      const stream = uniqueStream("closed");
      const closed = new Recorder();
      const witness = new Recorder();
      const subscription = await h.subscribe(stream, uniqueName("closed"), closed);
      await h.subscribe(stream, uniqueName("witness"), witness);
      await h.backing().publish(stream, testEvents("before", 2));
      await waitFor(() => closed.completed === 2, DELIVERY_MS, "deliveries before close");
      await subscription.close(5_000);
      const later = testEvents("after", 5);
      await h.backing().publish(stream, later);
      await waitFor(() => witness.hasAll(later.map(idOf)), DELIVERY_MS, "the witness consumer");
      await sleep(QUIET_MS);
      expect(closed.ids().sort()).toEqual(["before-0", "before-1"]);
    },
    h.testTimeout,
  );

  it(
    "a stuck consumer does not delay another consumer of the same stream",
    async () => {
      const stream = uniqueStream("isolation");
      const stuck = new Gate();
      const slow = new Recorder(() => stuck.promise);
      const fast = new Recorder();
      await h.subscribe(stream, uniqueName("slow"), slow, { concurrency: 1, ordered: false });
      await h.subscribe(stream, uniqueName("fast"), fast, { concurrency: 1, ordered: false });
      const events = testEvents("i", 20);
      await h.backing().publish(stream, events);
      await waitFor(
        () => fast.hasAll(events.map(idOf)),
        DELIVERY_MS,
        "the fast consumer",
        () => fast.ids(),
      );
      expect(slow.completed).toBe(0);
      expect(slow.received.length).toBeLessThanOrEqual(1);
    },
    h.testTimeout,
  );
}
