import { describe, expect, it } from "vitest";
import { DeliveryWindow, type HeldEntry } from "../../../src/backing/redis/delivery-window.js";
import { testEvent } from "../../conformance/conformance-support.js";

/** Drives a window by hand and records which entry ids it started, in order. */
function harness(concurrency: number, capacity: number) {
  const started: string[] = [];
  const window = new DeliveryWindow(concurrency, capacity, (entry: HeldEntry) => {
    started.push(entry.id);
  });
  const offer = (id: string, lane: string) => window.offer(id, testEvent(id), lane, 1);
  return { window, started, offer };
}

describe("redis delivery window", () => {
  it.each<[string, number, Array<[string, string]>, string[]]>([
    [
      "distinct lanes start at once up to the concurrency",
      2,
      [
        ["1-0", "a"],
        ["2-0", "b"],
        ["3-0", "c"],
      ],
      ["1-0", "2-0"],
    ],
    [
      "one lane starts only its head",
      4,
      [
        ["1-0", "k"],
        ["2-0", "k"],
        ["3-0", "j"],
      ],
      ["1-0", "3-0"],
    ],
  ])("%s", (_, concurrency, offers, expected) => {
    const { started, offer } = harness(concurrency, 10);
    for (const [id, lane] of offers) offer(id, lane);
    expect(started).toEqual(expected);
  });

  it("runs a lane in id order, and an older (reclaimed) entry goes ahead of a queued one", () => {
    const { window, started, offer } = harness(1, 10);
    offer("5-0", "x"); // occupies the only slot
    offer("9-0", "k");
    offer("7-0", "k"); // older than the queued head: it runs first
    offer("8-0", "k");
    window.settle("5-0");
    window.settle("7-0");
    window.settle("8-0");
    expect(started).toEqual(["5-0", "7-0", "8-0", "9-0"]);
  });

  it("never puts an older entry ahead of one already running in its lane", () => {
    const { window, started, offer } = harness(4, 10);
    offer("9-0", "k");
    offer("3-0", "k");
    expect(started).toEqual(["9-0"]);
    window.settle("9-0");
    expect(started).toEqual(["9-0", "3-0"]);
  });

  it("keeps a rejected entry at the head of its lane until it is resumed", () => {
    const { window, started, offer } = harness(4, 10);
    offer("1-0", "k");
    offer("2-0", "k");
    window.defer("1-0");
    expect(started).toEqual(["1-0"]);
    window.resume("1-0", 2);
    expect(started).toEqual(["1-0", "1-0"]);
    expect(window.get("1-0")!.deliveryCount).toBe(2);
    window.settle("1-0");
    expect(started).toEqual(["1-0", "1-0", "2-0"]);
  });

  it("counts held entries against its capacity and refuses an id it holds", () => {
    const { window, offer } = harness(1, 2);
    expect(offer("1-0", "a")).toBe(true);
    expect(offer("1-0", "a")).toBe(false);
    offer("2-0", "b");
    expect(window.room).toBe(0);
    let woke = false;
    void window.whenRoom().then(() => {
      woke = true;
    });
    window.settle("1-0");
    return Promise.resolve().then(() => expect(woke).toBe(true));
  });

  it("starts nothing after stop(), and whenIdle waits for running handlers", async () => {
    const { window, started, offer } = harness(1, 4);
    offer("1-0", "a");
    offer("2-0", "b");
    window.stop();
    let idle = false;
    const waiting = window.whenIdle().then(() => {
      idle = true;
    });
    await Promise.resolve();
    expect(idle).toBe(false);
    window.settle("1-0");
    await waiting;
    expect(started).toEqual(["1-0"]);
  });
});
