import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { DeliveryLanes } from "../../../src/backing/nats/delivery-lanes.js";

interface Item {
  readonly lane: string;
  readonly n: number;
}

/** Runs `items` through lanes and reports the run order and the peak of concurrent runs. */
async function runThrough(concurrency: number, items: Item[]) {
  const order: Item[] = [];
  let running = 0;
  let peak = 0;
  const busyLanes = new Set<string>();
  let laneOverlaps = 0;
  const lanes = new DeliveryLanes<Item>(concurrency, async (item) => {
    if (busyLanes.has(item.lane)) laneOverlaps++;
    busyLanes.add(item.lane);
    running++;
    peak = Math.max(peak, running);
    order.push(item);
    await sleep(5);
    running--;
    busyLanes.delete(item.lane);
  });
  for (const item of items) lanes.push(item.lane, item);
  await lanes.whenIdle();
  return { order, peak, laneOverlaps, held: lanes.held };
}

const items = (lanes: string[], perLane: number): Item[] =>
  Array.from({ length: perLane }, (_, n) => lanes.map((lane) => ({ lane, n }))).flat();

describe("delivery lanes", () => {
  it.each([
    ["one lane runs one at a time even with room for more", 8, ["a"], 1],
    ["four lanes run side by side", 8, ["a", "b", "c", "d"], 4],
    ["concurrency caps the lanes running at once", 2, ["a", "b", "c", "d"], 2],
  ])("%s", async (_, concurrency, laneNames, expectedPeak) => {
    const { order, peak, laneOverlaps, held } = await runThrough(concurrency, items(laneNames, 5));
    expect(peak).toBe(expectedPeak);
    expect(laneOverlaps).toBe(0);
    expect(held).toBe(0);
    for (const lane of laneNames) {
      expect(order.filter((i) => i.lane === lane).map((i) => i.n)).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it("hands back waiting items but leaves running ones alone", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lanes = new DeliveryLanes<number>(1, () => gate);
    for (const n of [1, 2, 3]) lanes.push("only", n);
    expect(lanes.waiting()).toEqual([2, 3]);
    expect(lanes.takeWaiting()).toEqual([2, 3]);
    expect(lanes.held).toBe(1);
    release();
    await lanes.whenIdle();
    expect(lanes.held).toBe(0);
  });
});
