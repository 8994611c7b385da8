import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { SubscribeOptions } from "../../../src/backing/backing.js";
import {
  MemoryBacking,
  type MemoryBackingOptions,
} from "../../../src/backing/memory/memory-backing.js";
import type { AttributeValue, CloudEvent } from "../../../src/events/event.js";
import { Gate, idOf, Recorder, testEvent, waitFor } from "../../conformance/conformance-support.js";

const WAIT_MS = 10_000;
/** How long to keep watching for deliveries that must not happen. */
const QUIET_MS = 200;
const STREAM = "broker.default.hinted";

/** An event whose id says its type: `a-1` has type `a`. */
function typed(id: string, extra: Record<string, AttributeValue> = {}): CloudEvent {
  return testEvent(id, { type: id.split("-")[0]!, ...extra });
}

function options(typeHint: string | undefined, ordered = false, concurrency = 8): SubscribeOptions {
  return { concurrency, ordered, ...(typeHint === undefined ? {} : { typeHint }) };
}

describe("memory backing: type-hinted consumers", () => {
  const backings: MemoryBacking[] = [];

  function makeBacking(backingOptions: MemoryBackingOptions = {}): MemoryBacking {
    const backing = new MemoryBacking(backingOptions);
    backings.push(backing);
    return backing;
  }

  afterEach(async () => {
    Gate.releaseAll();
    await Promise.all(backings.splice(0).map((b) => b.close()));
  });

  it.each<[string, Array<[string, string | undefined]>, string[], Record<string, string[]>]>([
    [
      "an unhinted consumer gets every type while each hinted one gets only its own",
      [
        ["all", undefined],
        ["only-a", "a"],
        ["only-b", "b"],
      ],
      ["a-1", "b-1", "x-1", "a-2"],
      { all: ["a-1", "b-1", "x-1", "a-2"], "only-a": ["a-1", "a-2"], "only-b": ["b-1"] },
    ],
    [
      "a hint matches the type exactly, not by prefix, suffix or case",
      [["exact", "com.a"]],
      ["com.a-1", "com.a.b-1", "COM.A-1", "com.ab-1", "x.com.a-1", "com.a-2"],
      { exact: ["com.a-1", "com.a-2"] },
    ],
    [
      "two consumers hinting the same type each get all of it",
      [
        ["first", "a"],
        ["second", "a"],
      ],
      ["a-1", "b-1", "a-2"],
      { first: ["a-1", "a-2"], second: ["a-1", "a-2"] },
    ],
    [
      "a consumer hinting a type nobody publishes gets nothing",
      [
        ["idle", "never"],
        ["all", undefined],
      ],
      ["a-1", "b-1"],
      { idle: [], all: ["a-1", "b-1"] },
    ],
  ])("%s", async (_, consumers, published, expected) => {
    const backing = makeBacking();
    const recorders = new Map<string, Recorder>();
    for (const [name, hint] of consumers) {
      const recorder = new Recorder();
      recorders.set(name, recorder);
      await backing.subscribe(STREAM, name, recorder.handler, options(hint));
    }
    await backing.publish(
      STREAM,
      published.map((id) => typed(id)),
    );
    const got = () => Object.fromEntries([...recorders].map(([name, r]) => [name, r.ids()]));
    await waitFor(
      () => [...recorders].every(([name, r]) => r.completed >= expected[name]!.length),
      WAIT_MS,
      "every expected delivery",
      got,
    );
    await sleep(QUIET_MS);
    expect(got()).toEqual(expected);
    for (const [name] of consumers) expect(backing.depth(STREAM, name), name).toBe(0);
  });

  it("counts only events of its type in a hinted consumer's depth", async () => {
    const backing = makeBacking();
    const gate = new Gate();
    const hinted = new Recorder(() => gate.promise);
    const unhinted = new Recorder(() => gate.promise);
    await backing.subscribe(STREAM, "hinted", hinted.handler, options("a", false, 1));
    await backing.subscribe(STREAM, "unhinted", unhinted.handler, options(undefined, false, 1));
    const events = Array.from({ length: 12 }, (_, i) => typed(i % 3 === 0 ? `a-${i}` : `b-${i}`));
    await backing.publish(STREAM, events);
    await waitFor(() => hinted.inFlight === 1 && unhinted.inFlight === 1, WAIT_MS, "one each");
    expect(backing.depth(STREAM, "hinted")).toBe(3);
    expect(backing.depth(STREAM, "unhinted")).toBe(11);
    gate.release();
    await waitFor(() => hinted.completed === 4 && unhinted.completed === 12, WAIT_MS, "the rest");
    expect(backing.depth(STREAM, "hinted")).toBe(0);
  });

  it("splits a type's events between subscriptions sharing a name and hint, each once", async () => {
    const backing = makeBacking();
    const slow = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
    const a = new Recorder(slow);
    const b = new Recorder(slow);
    await backing.subscribe(STREAM, "shared", a.handler, options("a", false, 2));
    await backing.subscribe(STREAM, "shared", b.handler, options("a", false, 2));
    const ids = Array.from({ length: 40 }, (_, i) => `a-${i}`);
    await backing.publish(
      STREAM,
      ids.flatMap((id, i) => [typed(id), typed(`b-${i}`)]),
    );
    await waitFor(() => a.completed + b.completed === 40, WAIT_MS, "all of type a");
    await sleep(QUIET_MS);
    expect([...a.ids(), ...b.ids()].sort()).toEqual([...ids].sort());
    expect(a.completed).toBeGreaterThan(0);
    expect(b.completed).toBeGreaterThan(0);
  });

  it("resumes a hinted consumer re-subscribed with the same hint at its position", async () => {
    const backing = makeBacking();
    const first = await backing.subscribe(STREAM, "resumed", async () => {}, options("a"));
    await first.close();
    await backing.publish(STREAM, [typed("a-1"), typed("b-1"), typed("a-2")]);
    expect(backing.depth(STREAM, "resumed")).toBe(2);
    const second = new Recorder();
    await backing.subscribe(STREAM, "resumed", second.handler, options("a"));
    await waitFor(() => second.completed === 2, WAIT_MS, "what came in between");
    await sleep(QUIET_MS);
    expect(second.ids()).toEqual(["a-1", "a-2"]);
  });

  it("redelivers a rejected hinted event with a higher deliveryCount, and no other type", async () => {
    const backing = makeBacking({ redeliveryDelayMs: 20 });
    const recorder = new Recorder(async (event, meta) => {
      if (idOf(event) === "a-1" && meta.deliveryCount < 3) throw new Error("subscriber down");
    });
    await backing.subscribe(STREAM, "retried", recorder.handler, options("a"));
    await backing.publish(STREAM, [typed("b-1"), typed("a-1"), typed("b-2"), typed("a-2")]);
    await waitFor(() => recorder.completed === 4, WAIT_MS, "three attempts and a-2");
    await sleep(QUIET_MS);
    const attempts = recorder.received.map((r) => `${idOf(r.event)}#${r.deliveryCount}`);
    expect(attempts.sort()).toEqual(["a-1#1", "a-1#2", "a-1#3", "a-2#1"]);
    expect(backing.depth(STREAM, "retried")).toBe(0);
  });

  it("ordered and hinted: holds a rejected event's key, keeps each key's order, skips other types", async () => {
    const backing = makeBacking({ redeliveryDelayMs: 30 });
    let failures = 2;
    const recorder = new Recorder(async (event) => {
      if (idOf(event) === "a-0" && failures-- > 0) throw new Error("subscriber down");
    });
    await backing.subscribe(STREAM, "ordered", recorder.handler, options("a", true, 4));
    const events = Array.from({ length: 12 }, (_, i) =>
      typed(i % 3 === 2 ? `b-${i}` : `a-${i}`, { partitionkey: i % 2 === 0 ? "even" : "odd" }),
    );
    await backing.publish(STREAM, events);
    await waitFor(
      () => recorder.completed === 10,
      WAIT_MS,
      "every delivery",
      () => recorder.ids(),
    );
    await sleep(QUIET_MS);
    const deliveries = recorder.received.map((r) => `${idOf(r.event)}#${r.deliveryCount}`);
    const ofKey = (key: string) =>
      recorder.received
        .filter((r) => r.event.attributes["partitionkey"] === key)
        .map((r) => `${idOf(r.event)}#${r.deliveryCount}`);
    expect(ofKey("even")).toEqual(["a-0#1", "a-0#2", "a-0#3", "a-4#1", "a-6#1", "a-10#1"]);
    expect(ofKey("odd")).toEqual(["a-1#1", "a-3#1", "a-7#1", "a-9#1"]);
    expect(deliveries.indexOf("a-9#1")).toBeLessThan(deliveries.indexOf("a-0#3"));
  });

  /**
   * A trigger whose filter type is edited: the old subscription holds a-1 while the rest waits,
   * closes once a-1 is done, `gap` events arrive with no subscription, then the new one comes.
   */
  describe.each([
    ["unordered", false],
    ["ordered", true],
  ])("hint change on re-subscribe (%s)", (_, ordered) => {
    it.each<[string, string | undefined, string | undefined, string[]]>([
      [
        "unhinted to b: the backlog's b events (gap included) come before new ones",
        undefined,
        "b",
        ["b-1", "b-2", "b-gap", "b-3"],
      ],
      [
        "a to b: the a backlog is dropped as the old version's; new b events arrive",
        "a",
        "b",
        ["b-3"],
      ],
      [
        "a to unhinted: the a backlog (gap included) is kept, then every new event",
        "a",
        undefined,
        ["a-2", "a-gap", "a-3", "b-3"],
      ],
      ["a to a (no change): the consumer resumes its a backlog", "a", "a", ["a-2", "a-gap", "a-3"]],
    ])("%s", async (_, before, after, expected) => {
      const backing = makeBacking();
      const gate = new Gate();
      const old = new Recorder(() => gate.promise);
      const subscription = await backing.subscribe(
        STREAM,
        "edited",
        old.handler,
        options(before, ordered, 1),
      );
      await backing.publish(
        STREAM,
        ["a-1", "b-1", "a-2", "b-2"].map((id) => typed(id)),
      );
      await waitFor(() => old.inFlight === 1, WAIT_MS, "a-1 in flight");
      const closing = subscription.close();
      gate.release();
      await closing;
      await backing.publish(STREAM, [typed("a-gap"), typed("b-gap")]);
      const edited = new Recorder();
      await backing.subscribe(STREAM, "edited", edited.handler, options(after, ordered));
      await backing.publish(STREAM, [typed("a-3"), typed("b-3")]);
      await waitFor(
        () => edited.completed >= expected.length,
        WAIT_MS,
        "the edited trigger's events",
        () => edited.ids(),
      );
      await sleep(QUIET_MS);
      expect(old.ids()).toEqual(["a-1"]);
      expect(edited.ids()).toEqual(expected);
      expect(backing.depth(STREAM, "edited")).toBe(0);
    });
  });

  it.each([
    ["its retry came due before the re-subscribe", 150],
    ["its retry comes due after the re-subscribe", 0],
  ])("never hands the handler a failed event the new hint rejects: %s", async (_, idleMs) => {
    const backing = makeBacking({ redeliveryDelayMs: 50 });
    const old = new Recorder(async () => {
      throw new Error("subscriber down");
    });
    const subscription = await backing.subscribe(STREAM, "switched", old.handler, options("a"));
    await backing.publish(STREAM, [typed("a-1")]);
    await waitFor(() => old.completed === 1, WAIT_MS, "the failed first attempt");
    await subscription.close();
    await sleep(idleMs);
    expect(backing.depth(STREAM, "switched")).toBe(idleMs > 0 ? 1 : 0);
    const edited = new Recorder();
    await backing.subscribe(STREAM, "switched", edited.handler, options("b"));
    await backing.publish(STREAM, [typed("b-1")]);
    await waitFor(() => edited.completed === 1, WAIT_MS, "b-1");
    await sleep(200); // past the redelivery delay of a-1
    expect(edited.ids()).toEqual(["b-1"]);
    expect(backing.depth(STREAM, "switched")).toBe(0);
  });

  it("drops parked events the new hint rejects and keeps the order of the rest", async () => {
    const backing = makeBacking();
    const gate = new Gate();
    const old = new Recorder(() => gate.promise);
    const before = await backing.subscribe(
      STREAM,
      "parked",
      old.handler,
      options(undefined, true, 4),
    );
    const ids = ["a-1", "b-1", "a-2", "b-2", "b-3"];
    await backing.publish(
      STREAM,
      ids.map((id) => typed(id, { partitionkey: "one" })),
    );
    await waitFor(() => old.inFlight === 1, WAIT_MS, "a-1 in flight, the rest parked behind it");
    expect(backing.depth(STREAM, "parked")).toBe(4);
    const edited = new Recorder();
    await backing.subscribe(STREAM, "parked", edited.handler, options("b", true));
    expect(backing.depth(STREAM, "parked")).toBe(3);
    await before.close(0);
    await waitFor(
      () => edited.completed === 3,
      WAIT_MS,
      "the b events",
      () => edited.ids(),
    );
    await sleep(QUIET_MS);
    expect(edited.ids()).toEqual(["b-1", "b-2", "b-3"]);
    expect(backing.depth(STREAM, "parked")).toBe(0);
  });

  it("names options.typeHint when it is not a string", async () => {
    const backing = makeBacking();
    const bad = { concurrency: 1, ordered: false, typeHint: 7 } as unknown as SubscribeOptions;
    await expect(backing.subscribe(STREAM, "c", async () => {}, bad)).rejects.toThrow(
      /options\.typeHint/,
    );
  });
});
