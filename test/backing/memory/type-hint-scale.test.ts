import { performance } from "node:perf_hooks";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryBacking } from "../../../src/backing/memory/memory-backing.js";
import type { CloudEvent } from "../../../src/events/event.js";
import { testEvent } from "../../conformance/conformance-support.js";

/**
 * Issue 7: a broker with 10,000 exact-type triggers should cost about what a broker with one
 * trigger costs per event. Wall-clock figures are printed, not asserted (the machine is shared);
 * what is asserted is who got what, and a memory ceiling far below the 100 MB.
 */
const STREAM = "broker.default.scale";
const CONSUMERS = 10_000;
const EVENTS = 2_000;
/** Events go to every (CONSUMERS / USED_TYPES)-th consumer's type. */
const USED_TYPES = 100;
const BATCH = 50;
const RUNS = 5;

function typeOf(consumer: number): string {
  return `dev.eventail.scale.t${consumer}`;
}

/** Event i of a run has the type of consumer (i % USED_TYPES) × (CONSUMERS / USED_TYPES). */
function events(run: number): CloudEvent[] {
  const stride = CONSUMERS / USED_TYPES;
  return Array.from({ length: EVENTS }, (_, i) =>
    testEvent(`r${run}-${i}`, { type: typeOf((i % USED_TYPES) * stride) }),
  );
}

/** Counts deliveries per consumer and resolves `done` once `expected` handler calls ran. */
class Tally {
  readonly counts: Uint32Array;
  mismatched = 0;
  private total = 0;
  private target = 0;
  private finish: (() => void) | undefined;

  constructor(consumers: number) {
    this.counts = new Uint32Array(consumers);
  }

  handler(consumer: number, typeHint: string | undefined) {
    return async (event: CloudEvent): Promise<void> => {
      if (typeHint !== undefined && event.attributes["type"] !== typeHint) this.mismatched++;
      this.counts[consumer]!++;
      if (++this.total === this.target) this.finish?.();
    };
  }

  /**
   * Publishes in batches and returns the milliseconds until the last delivery ran, of wall
   * clock and of process CPU (steadier when other work shares the machine).
   */
  async time(
    backing: MemoryBacking,
    batch: CloudEvent[],
    deliveries: number,
  ): Promise<{ wall: number; cpu: number }> {
    this.counts.fill(0);
    this.total = 0;
    this.target = deliveries;
    const done = new Promise<void>((resolve) => {
      this.finish = resolve;
    });
    const started = performance.now();
    const cpu = process.cpuUsage();
    for (let i = 0; i < batch.length; i += BATCH) {
      await backing.publish(STREAM, batch.slice(i, i + BATCH));
    }
    await done;
    const used = process.cpuUsage(cpu);
    return { wall: performance.now() - started, cpu: (used.user + used.system) / 1000 };
  }
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

v8.setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function heapMb(): { heap: number; rss: number } {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed / 2 ** 20, rss: usage.rss / 2 ** 20 };
}

describe("memory backing: 10,000 type-hinted consumers", () => {
  const backings: MemoryBacking[] = [];

  afterEach(async () => {
    await Promise.all(backings.splice(0).map((b) => b.close()));
  });

  it("keeps 10,000 hinted consumers far below 100 MB of heap", async () => {
    const base = heapMb();
    const backing = new MemoryBacking();
    backings.push(backing);
    const tally = new Tally(CONSUMERS);
    for (let c = 0; c < CONSUMERS; c++) {
      const typeHint = typeOf(c);
      await backing.subscribe(STREAM, `trigger-${c}`, tally.handler(c, typeHint), {
        concurrency: 8,
        ordered: false,
        typeHint,
      });
    }
    const subscribed = heapMb();
    await tally.time(backing, events(0), EVENTS);
    const delivered = heapMb();
    const unhinted = new MemoryBacking();
    backings.push(unhinted);
    const plain = new Tally(CONSUMERS);
    const beforePlain = heapMb();
    for (let c = 0; c < CONSUMERS; c++) {
      await unhinted.subscribe(STREAM, `trigger-${c}`, plain.handler(c, undefined), {
        concurrency: 8,
        ordered: false,
      });
    }
    const plainSubscribed = heapMb();
    const added = subscribed.heap - base.heap;
    console.log(
      `${CONSUMERS} hinted consumers: heap +${added.toFixed(1)} MB, rss +` +
        `${(subscribed.rss - base.rss).toFixed(1)} MB; after ${EVENTS} events heap +` +
        `${(delivered.heap - base.heap).toFixed(1)} MB; ${CONSUMERS} unhinted consumers: heap +` +
        `${(plainSubscribed.heap - beforePlain.heap).toFixed(1)} MB`,
    );
    expect(added).toBeLessThan(25);
    expect(delivered.heap - base.heap).toBeLessThan(25);
  }, 120_000);

  it("delivers each event only to the consumer hinting its type, at the cost of the matching ones", async () => {
    const stride = CONSUMERS / USED_TYPES;
    const perUsedType = EVENTS / USED_TYPES;
    const setups = [
      {
        label: "1 unhinted consumer",
        hints: [undefined],
        expected: () => EVENTS,
      },
      {
        label: `${USED_TYPES} hinted consumers (the types published)`,
        hints: Array.from({ length: USED_TYPES }, (_, k) => typeOf(k * stride)),
        expected: () => perUsedType,
      },
      {
        label: `${CONSUMERS} hinted consumers`,
        hints: Array.from({ length: CONSUMERS }, (_, c) => typeOf(c)),
        expected: (c: number) => (c % stride === 0 ? perUsedType : 0),
      },
    ].map((setup) => ({
      ...setup,
      backing: new MemoryBacking(),
      tally: new Tally(setup.hints.length),
      wall: [] as number[],
      cpu: [] as number[],
    }));
    for (const { backing, tally, hints } of setups) {
      backings.push(backing);
      for (const [c, typeHint] of hints.entries()) {
        await backing.subscribe(STREAM, `trigger-${c}`, tally.handler(c, typeHint), {
          concurrency: 8,
          ordered: false,
          ...(typeHint === undefined ? {} : { typeHint }),
        });
      }
    }
    for (let run = 0; run < RUNS; run++) {
      const batch = events(run);
      for (const setup of setups) {
        const { wall, cpu } = await setup.tally.time(setup.backing, batch, EVENTS);
        setup.wall.push(wall);
        setup.cpu.push(cpu);
        const counts = setup.tally.counts;
        const wrong = counts.findIndex((n, c) => n !== setup.expected(c));
        expect(wrong, `${setup.label}: consumer ${wrong} got ${counts[wrong]}`).toBe(-1);
        expect(setup.tally.mismatched, setup.label).toBe(0);
        expect(setup.backing.depth(STREAM, "trigger-0"), setup.label).toBe(0);
      }
    }
    const show = (ms: number[]) =>
      `${ms.map((t) => t.toFixed(1)).join(", ")} (median ${median(ms).toFixed(1)})`;
    for (const setup of setups) {
      console.log(
        `${EVENTS} events, ${setup.label}: wall ms ${show(setup.wall)}; cpu ms ${show(setup.cpu)}`,
      );
    }
  }, 120_000);
});
