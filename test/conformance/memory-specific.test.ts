import { afterEach, describe, expect, it } from "vitest";
import {
  BackingUnavailableError,
  type SubscribeOptions,
  type Subscription,
} from "../../src/backing/backing.js";
import {
  MemoryBacking,
  type MemoryBackingOptions,
} from "../../src/backing/memory/memory-backing.js";
import type { CloudEvent } from "../../src/events/event.js";
import { Gate, idOf, Recorder, testEvents, waitFor } from "./conformance-support.js";

const UNORDERED: SubscribeOptions = { concurrency: 8, ordered: false };
const WAIT_MS = 10_000;

describe("memory backing specifics", () => {
  const backings: MemoryBacking[] = [];

  function makeBacking(options: MemoryBackingOptions = {}): MemoryBacking {
    const backing = new MemoryBacking(options);
    backings.push(backing);
    return backing;
  }

  afterEach(async () => {
    Gate.releaseAll();
    await Promise.all(backings.splice(0).map((b) => b.close()));
  });

  it("gives each of 10,000 consumers of one stream all 1,000 events exactly once", async () => {
    const backing = makeBacking();
    const consumers = 10_000;
    const events = testEvents("many", 1_000);
    const counts = new Uint32Array(consumers);
    const lastSeen = new Int32Array(consumers).fill(-1);
    let outOfOrder = 0;
    const index = new Map(events.map((e, i) => [e as CloudEvent, i]));
    for (let c = 0; c < consumers; c++) {
      await backing.subscribe(
        "broker.default.many",
        `trigger-${c}`,
        async (event) => {
          const i = index.get(event)!;
          if (i < lastSeen[c]!) outOfOrder++;
          lastSeen[c] = i;
          counts[c]!++;
        },
        { concurrency: 1, ordered: false },
      );
    }
    for (let i = 0; i < events.length; i += 50) {
      await backing.publish("broker.default.many", events.slice(i, i + 50));
    }
    const total = () => counts.reduce((sum, n) => sum + n, 0);
    await waitFor(() => total() >= consumers * events.length, 60_000, "every delivery", total);
    expect(counts.every((n) => n === events.length)).toBe(true);
    expect(outOfOrder).toBe(0);
    expect(backing.depth("broker.default.many", "trigger-0")).toBe(0);
  }, 90_000);

  it("reaches a concurrency of 100 for slow handlers over a backlog", async () => {
    const backing = makeBacking();
    const gate = new Gate();
    const recorder = new Recorder(() => gate.promise);
    await backing.subscribe("s", "slow", recorder.handler, { concurrency: 100, ordered: false });
    await backing.publish("s", testEvents("b", 250));
    await waitFor(
      () => recorder.inFlight === 100,
      WAIT_MS,
      "100 handlers in flight",
      () => ({
        inFlight: recorder.inFlight,
      }),
    );
    expect(backing.depth("s", "slow")).toBe(150);
    gate.release();
    await waitFor(() => recorder.completed === 250, WAIT_MS, "every event");
    expect(recorder.maxInFlight).toBe(100);
  });

  it("counts the backlog of a stuck consumer in depth, and none for a keeping-up one", async () => {
    const backing = makeBacking();
    const gate = new Gate();
    const stuck = new Recorder(() => gate.promise);
    const fast = new Recorder();
    await backing.subscribe("s", "stuck", stuck.handler, { concurrency: 2, ordered: false });
    await backing.subscribe("s", "fast", fast.handler, UNORDERED);
    await backing.publish("s", testEvents("d", 10));
    await waitFor(() => fast.completed === 10 && stuck.inFlight === 2, WAIT_MS, "deliveries");
    expect(backing.depth("s", "stuck")).toBe(8);
    expect(backing.depth("s", "fast")).toBe(0);
    gate.release();
    await waitFor(
      () => backing.depth("s", "stuck") === 0 && stuck.inFlight === 0,
      WAIT_MS,
      "drain",
    );
  });

  it("shares the work of one consumer between its live subscriptions", async () => {
    const backing = makeBacking();
    const a = new Recorder(() => new Promise((resolve) => setTimeout(resolve, 2)));
    const b = new Recorder(() => new Promise((resolve) => setTimeout(resolve, 2)));
    await backing.subscribe("s", "shared", a.handler, { concurrency: 2, ordered: false });
    await backing.subscribe("s", "shared", b.handler, { concurrency: 2, ordered: false });
    await backing.publish("s", testEvents("w", 40));
    await waitFor(() => a.completed + b.completed === 40, WAIT_MS, "all work");
    expect(a.completed).toBeGreaterThan(0);
    expect(b.completed).toBeGreaterThan(0);
  });

  it("holds later events of a partitionkey behind a rejected one, and lets other keys pass", async () => {
    const backing = makeBacking({ redeliveryDelayMs: 30 });
    let failures = 2;
    const recorder = new Recorder(async (event) => {
      if (idOf(event) === "k-0" && failures-- > 0) throw new Error("subscriber down");
    });
    await backing.subscribe("s", "ordered", recorder.handler, { concurrency: 4, ordered: true });
    const events = testEvents("k", 6, (i) => ({ partitionkey: i % 2 === 0 ? "even" : "odd" }));
    await backing.publish("s", events);
    await waitFor(
      () => recorder.completed === 8,
      WAIT_MS,
      "every delivery",
      () => recorder.ids(),
    );
    const deliveries = recorder.received.map((r) => `${idOf(r.event)}#${r.deliveryCount}`);
    const even = deliveries.filter((d) => ["k-0", "k-2", "k-4"].includes(d.split("#")[0]!));
    expect(even).toEqual(["k-0#1", "k-0#2", "k-0#3", "k-2#1", "k-4#1"]);
    expect(deliveries.indexOf("k-5#1")).toBeLessThan(deliveries.indexOf("k-0#3"));
  });

  it("waits longer before each redelivery of an event that keeps failing", async () => {
    const base = 40;
    const backing = makeBacking({ redeliveryDelayMs: base });
    const recorder = new Recorder(async (_, meta) => {
      if (meta.deliveryCount < 4) throw new Error("still failing");
    });
    await backing.subscribe("s", "backoff", recorder.handler, UNORDERED);
    await backing.publish("s", testEvents("f", 1));
    await waitFor(() => recorder.completed === 4, WAIT_MS, "four attempts");
    const at = recorder.received.map((r) => r.at);
    expect(recorder.received.map((r) => r.deliveryCount)).toEqual([1, 2, 3, 4]);
    for (let k = 1; k < 4; k++) {
      // Date.now() has millisecond resolution on both ends of each gap.
      expect(at[k]! - at[k - 1]!, `gap before attempt ${k + 1}`).toBeGreaterThanOrEqual(
        base * 2 ** (k - 1) - 2,
      );
    }
  });

  it("gives up waiting for a handler that never finishes after the grace period", async () => {
    const backing = makeBacking();
    const recorder = new Recorder(() => new Gate().promise);
    const subscription = await backing.subscribe("s", "hung", recorder.handler, UNORDERED);
    await backing.publish("s", testEvents("h", 1));
    await waitFor(() => recorder.inFlight === 1, WAIT_MS, "the delivery");
    const started = Date.now();
    await subscription.close(150);
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(145);
    expect(waited).toBeLessThan(2_000);
    expect(backing.depth("s", "hung")).toBe(1);
  });

  it.each([
    ["keeps the events of a consumer re-subscribed within the retention", 60_000, ["gap", "next"]],
    ["forgets a consumer left without subscription past the retention", 30, ["next"]],
  ])("%s", async (_, retainIdleConsumerMs, expected) => {
    const backing = makeBacking({ retainIdleConsumerMs });
    const first = new Recorder();
    const subscription = await backing.subscribe("s", "reloaded", first.handler, UNORDERED);
    await subscription.close();
    await backing.publish("s", testEvents("gap", 1));
    if (retainIdleConsumerMs < 1_000) {
      await waitFor(() => backing.depth("s", "reloaded") === 0, WAIT_MS, "the consumer forgotten");
    }
    const second = new Recorder();
    await backing.subscribe("s", "reloaded", second.handler, UNORDERED);
    await backing.publish("s", testEvents("next", 1));
    await waitFor(() => second.ids().includes("next-0"), WAIT_MS, "the next event");
    expect(second.ids().map((id) => id.split("-")[0])).toEqual(expected);
  });

  it("hands parked ordered events to an unordered successor without losing any", async () => {
    const backing = makeBacking();
    const gate = new Gate();
    const ordered = new Recorder(() => gate.promise);
    const before = await backing.subscribe("s", "switch", ordered.handler, {
      concurrency: 4,
      ordered: true,
    });
    await backing.publish(
      "s",
      testEvents("p", 6, () => ({ partitionkey: "one" })),
    );
    await waitFor(() => ordered.inFlight === 1, WAIT_MS, "the first ordered delivery");
    const successor = new Recorder();
    await backing.subscribe("s", "switch", successor.handler, UNORDERED);
    await before.close(0);
    await waitFor(
      () => successor.distinctIds().size === 6,
      WAIT_MS,
      "all six",
      () => successor.ids(),
    );
    expect(successor.received.find((r) => idOf(r.event) === "p-0")?.deliveryCount).toBe(2);
  });

  it.each<[string, (backing: MemoryBacking) => Promise<unknown>]>([
    ["publish after close", (b) => b.publish("s", testEvents("x", 1))],
    ["subscribe after close", (b) => b.subscribe("s", "c", async () => {}, UNORDERED)],
  ])("rejects %s with BackingUnavailableError", async (_, action) => {
    const backing = makeBacking();
    await backing.close();
    await expect(action(backing)).rejects.toThrow(BackingUnavailableError);
    expect(await backing.ready()).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])(
    "names options.concurrency when it is %s",
    async (concurrency) => {
      const backing = makeBacking();
      await expect(
        backing.subscribe("s", "c", async () => {}, { concurrency, ordered: false }),
      ).rejects.toThrow(/options\.concurrency/);
    },
  );

  it("closing a subscription twice and the backing twice is harmless", async () => {
    const backing = makeBacking();
    const subscription: Subscription = await backing.subscribe("s", "c", async () => {}, UNORDERED);
    await subscription.close();
    await subscription.close();
    await backing.close();
    await backing.close();
  });
});
