/**
 * Per-event metrics without prom-client's per-call cost. prom-client builds a key string from
 * the labels and validates them on every inc() and observe(), which the delivery path would pay
 * per event; here label values lead through nested Maps to a slot holding plain numbers, and the
 * numbers reach prom-client only when something reads the metrics (its `collect` hook).
 */
import type { Counter } from "prom-client";

interface Slot {
  readonly labels: Record<string, string>;
  pending: number;
}

type Level<T> = Map<string, T>;

/** The map under `key`, made on first use. */
function branch<T>(level: Level<Level<T>>, key: string): Level<T> {
  let next = level.get(key);
  if (next === undefined) {
    next = new Map();
    level.set(key, next);
  }
  return next;
}

/** Counts by three label values, added to a prom-client Counter when it collects. */
export class CounterTally {
  private readonly slots: Level<Level<Level<Slot>>> = new Map();
  private readonly dirty: Slot[] = [];

  constructor(private readonly names: readonly [string, string, string]) {}

  add(a: string, b: string, c: string): void {
    const third = branch(branch(this.slots, a), b);
    let slot = third.get(c);
    if (slot === undefined) {
      const [na, nb, nc] = this.names;
      slot = { labels: { [na]: a, [nb]: b, [nc]: c }, pending: 0 };
      third.set(c, slot);
    }
    if (slot.pending++ === 0) this.dirty.push(slot);
  }

  /** Hands the counts gathered since the last call to `counter`. */
  flushInto(counter: Counter<string>): void {
    for (const slot of this.dirty) {
      counter.inc(slot.labels, slot.pending);
      slot.pending = 0;
    }
    this.dirty.length = 0;
  }
}

interface HistogramSlot {
  readonly labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: Float64Array;
  count: number;
  sum: number;
}

/** One value of the exposition, in the shape prom-client's Registry formats. */
interface ExposedValue {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/**
 * A Prometheus histogram by two label values, kept in plain numbers and registered with a
 * prom-client Registry as a custom metric (the Registry only calls get()).
 */
export class TwoLabelHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly slots: Level<Level<HistogramSlot>> = new Map();
  private readonly all: HistogramSlot[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly [string, string],
    private readonly bounds: readonly number[],
  ) {}

  observe(a: string, b: string, value: number): void {
    const second = branch(this.slots, a);
    let slot = second.get(b);
    if (slot === undefined) {
      const [na, nb] = this.labelNames;
      slot = {
        labels: { [na]: a, [nb]: b },
        buckets: new Float64Array(this.bounds.length + 1),
        count: 0,
        sum: 0,
      };
      second.set(b, slot);
      this.all.push(slot);
    }
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index++;
    slot.buckets[index]!++;
    slot.count++;
    slot.sum += value;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: "histogram";
    aggregator: "sum";
    values: ExposedValue[];
  }> {
    const values: ExposedValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const slot of this.all) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += slot.buckets[i]!;
        values.push({
          metricName: bucketName,
          labels: { ...slot.labels, le: bound },
          value: cumulative,
        });
      });
      values.push({
        metricName: bucketName,
        labels: { ...slot.labels, le: "+Inf" },
        value: slot.count,
      });
      values.push({ metricName: `${this.name}_sum`, labels: slot.labels, value: slot.sum });
      values.push({ metricName: `${this.name}_count`, labels: slot.labels, value: slot.count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    this.slots.clear();
    this.all.length = 0;
  }
}
