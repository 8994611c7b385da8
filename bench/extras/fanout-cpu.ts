/**
 * CPU time of the measured process per delivery: Eventail's memory broker fanning each event out
 * to 10 and to 100 triggers, against the relay forwarding each event once to the same sink.
 */
import { probe, type RunningTarget, ScenarioLoad, startTarget } from "../run-scenario.js";
import { fmt, times } from "./format.js";
import type { Extra } from "./types.js";
import { memoryScenario, RELAY_SCENARIO } from "./wrk.js";

export const fanoutCpuExtra: Extra = {
  id: "fanout-cpu",
  title: "fan-out CPU per delivery (memory)",
  async run(context, problems) {
    const { harness, engines, settings } = context;
    const perDelivery: Record<string, number | undefined> = {};
    const scenarios = [
      RELAY_SCENARIO,
      memoryScenario("fanout-cpu-10", 10),
      memoryScenario("fanout-cpu-100", 100),
    ];
    for (const scenario of scenarios) {
      let target: RunningTarget | undefined;
      try {
        const started = await startTarget(scenario, harness, engines, settings);
        if ("skip" in started) throw new Error(started.skip);
        target = started;
        const unreachable = await probe(scenario, harness, target);
        if (unreachable) throw new Error(`${scenario.id}: ${unreachable}`);
        // The same deliveries in flight end to end whatever the fan-out (the window counts events).
        const window = Math.max(16, Math.ceil(settings.window / scenario.fanout));
        const load = new ScenarioLoad(scenario, target, harness, { ...settings, window });
        await load.drain("warmup", await load.closed("warmup", settings.throughputWarmMs));
        const round = await load.round("cpu");
        problems.push(...load.problems.map((p) => `${scenario.id}: ${p}`));
        perDelivery[scenario.id] =
          round.cpuUsPerEvent === undefined ? undefined : round.cpuUsPerEvent / scenario.fanout;
      } finally {
        await target?.stop();
      }
    }
    const relay = perDelivery[RELAY_SCENARIO.id];
    const row = (id: string, what: string) => {
      const value = perDelivery[id];
      const ratio = times(value, relay);
      return {
        what,
        figure: value === undefined ? "–" : `${fmt(value, 1)} µs CPU/delivery`,
        baseline: relay === undefined ? "–" : `${fmt(relay, 1)} µs CPU/delivery`,
        ...(ratio ? { ratio } : {}),
      };
    };
    return {
      id: this.id,
      title: this.title,
      rows: [row("fanout-cpu-10", "fan-out 10"), row("fanout-cpu-100", "fan-out 100")],
    };
  },
};
