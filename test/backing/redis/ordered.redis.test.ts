import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import type { AttributeValue } from "../../../src/events/event.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  idOf,
  Recorder,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");
const ORDERED = { concurrency: 4, ordered: true };
const RECLAIM_IDLE_MS = 600;

describe.skipIf(!url)("redis backing ordered delivery", () => {
  const backings: Backing[] = [];

  async function process(): Promise<Backing> {
    const backing = await createBacking(
      {
        kind: "redis",
        settings: {
          url: url!,
          reclaimIdleMs: String(RECLAIM_IDLE_MS),
          reclaimIntervalMs: "100",
          retryDelayMs: "150",
        },
      },
      { logger: silentLogger() },
    );
    backings.push(backing);
    return backing;
  }

  afterEach(async () => {
    await Promise.all(backings.splice(0).map((b) => b.close()));
  });

  it.each<[string, Record<string, AttributeValue>]>([
    ["with a partitionkey", { partitionkey: "order-17" }],
    ["without a partitionkey", {}],
  ])(
    "a rejected event %s is retried before any later event of its lane runs",
    async (_, extensions) => {
      const stream = uniqueStream("ordered-retry");
      let failed = false;
      const recorder = new Recorder(async (event) => {
        if (idOf(event) === "o-0" && !failed) {
          failed = true;
          throw new Error("subscriber unavailable");
        }
      });
      const backing = await process();
      await backing.subscribe(stream, uniqueName("trigger"), recorder.handler, ORDERED);
      await backing.publish(
        stream,
        testEvents("o", 4, () => extensions),
      );
      await waitFor(
        () => recorder.completed === 5,
        5_000,
        "every attempt",
        () => recorder.ids(),
      );
      expect(recorder.ids()).toEqual(["o-0", "o-0", "o-1", "o-2", "o-3"]);
      expect(recorder.received.map((r) => r.deliveryCount)).toEqual([1, 2, 1, 1, 1]);
    },
    10_000,
  );

  it("events queued behind a slow lane head stay with their process while it lives", async () => {
    const stream = uniqueStream("ordered-hold");
    const trigger = uniqueName("trigger");
    const slowMs = RECLAIM_IDLE_MS * 4;
    const owner = new Recorder(async (event, meta) => {
      if (idOf(event) !== "h-0") return;
      const until = Date.now() + slowMs;
      while (Date.now() < until) {
        meta.keepAlive();
        await sleep(100);
      }
    });
    const other = new Recorder();
    const first = await process();
    await first.subscribe(stream, trigger, owner.handler, ORDERED);
    await first.publish(
      stream,
      testEvents("h", 4, () => ({ partitionkey: "k" })),
    );
    await waitFor(() => owner.inFlight === 1, 5_000, "the slow head");
    await sleep(200);
    await (await process()).subscribe(stream, trigger, other.handler, ORDERED);
    await waitFor(
      () => owner.completed === 4,
      slowMs + 5_000,
      "the whole lane",
      () => owner.ids(),
    );
    expect(owner.ids()).toEqual(["h-0", "h-1", "h-2", "h-3"]);
    expect(other.ids()).toEqual([]);
  }, 15_000);
});
