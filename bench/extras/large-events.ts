/**
 * 64 KiB and 1 MiB events through the memory and Redis brokers (1 trigger) and the relay: MB/s
 * of event bodies delivered to the sink, closed loop with fewer requests in flight than the
 * small-event scenarios (64 requests of 1 MiB would measure memory pressure, not the path).
 */
import {
  type BenchSettings,
  probe,
  type RunningTarget,
  ScenarioLoad,
  startTarget,
} from "../run-scenario.js";
import type { BackingKind, Scenario } from "../scenarios.js";
import { fmt, times } from "./format.js";
import type { Extra, ExtraRow } from "./types.js";
import { RELAY_SCENARIO } from "./wrk.js";

const SIZES = [
  ["64 KiB", 64 * 1024],
  ["1 MiB", 1024 * 1024],
] as const;

function single(backing: BackingKind): Scenario {
  return {
    id: `large-${backing}`,
    title: `${backing}, 1 trigger`,
    target: { kind: "eventail", backing, triggers: 1, filtered: false },
    types: ["dev.eventail.bench.order"],
    fanout: 1,
  };
}

export const largeEventsExtra: Extra = {
  id: "large-events",
  title: "large events (1 trigger)",
  async run(context, problems) {
    const { harness, engines } = context;
    const settings: BenchSettings = {
      ...context.settings,
      concurrency: 8,
      window: 32,
      throughputWarmMs: Math.min(context.settings.throughputWarmMs, 1_000),
    };
    const mbPerSecond = new Map<string, number>();
    for (const scenario of [RELAY_SCENARIO, single("memory"), single("redis")]) {
      let target: RunningTarget | undefined;
      try {
        const started = await startTarget(scenario, harness, engines, settings);
        if ("skip" in started) {
          problems.push(`${scenario.id}: skipped, ${started.skip}`);
          continue;
        }
        target = started;
        const unreachable = await probe(scenario, harness, target);
        if (unreachable) throw new Error(`${scenario.id}: ${unreachable}`);
        for (const [label, bytes] of SIZES) {
          const load = new ScenarioLoad(scenario, target, harness, settings, {
            payloadBytes: bytes,
          });
          await load.drain(`warmup-${bytes}`, await load.closed(`warmup-${bytes}`, 300));
          const round = await load.round(`size-${bytes}`);
          problems.push(...load.problems.map((p) => `${scenario.id} ${label}: ${p}`));
          mbPerSecond.set(`${scenario.id} ${label}`, (round.eventsPerSecond * bytes) / 1e6);
        }
      } finally {
        await target?.stop();
      }
    }
    const rows: ExtraRow[] = [];
    for (const [label] of SIZES) {
      const relay = mbPerSecond.get(`${RELAY_SCENARIO.id} ${label}`);
      for (const backing of ["memory", "redis"] as const) {
        const value = mbPerSecond.get(`large-${backing} ${label}`);
        const ratio = times(value, relay);
        rows.push({
          what: `${label}, ${backing}`,
          figure: value === undefined ? "–" : `${fmt(value, 1)} MB/s`,
          baseline: relay === undefined ? "–" : `${fmt(relay, 1)} MB/s`,
          ...(ratio ? { ratio } : {}),
        });
      }
    }
    return { id: this.id, title: this.title, rows };
  },
};
