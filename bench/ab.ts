/**
 * Interleaved A/B of CPU time per event: two builds (or the same build twice) of one or more
 * scenarios run side by side, one closed-loop round of each in turn, so both see the same
 * machine. CPU µs per event survives other work on shared cores better than events/s does.
 *
 *   node dist/bench/ab.js --a OTHER/dist/src/cli/main.js [--b dist/src/cli/main.js]
 *                         --only memory-1,memory-1-auth [--rounds 6] [--seconds 4]
 *                         [--engine-pid PID]
 *
 * `--engine-pid` adds that process's CPU per event (e.g. redis-server, given its own instance
 * through REDIS_URL so other users of the engine do not count), and events/s are printed too.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { type BenchSettings, Harness, ScenarioLoad, startTarget } from "./run-scenario.js";
import { scenarios } from "./scenarios.js";
import { Engines } from "./support/engines.js";
import { readCpuSeconds } from "./support/proc.js";

const { values: options } = parseArgs({
  options: {
    a: { type: "string" },
    b: { type: "string" },
    only: { type: "string" },
    rounds: { type: "string", default: "6" },
    seconds: { type: "string", default: "4" },
    /** A folder: both sides run under `node --cpu-prof`, profiles named ID-A and ID-B. */
    profile: { type: "string" },
    "engine-pid": { type: "string" },
  },
});

const ids = (options.only ?? "").split(",").filter(Boolean);
const chosen = scenarios().filter((s) => ids.includes(s.id));
if (chosen.length === 0 || options.a === undefined) {
  process.stderr.write(
    "usage: ab.js --a CLI [--b CLI] --only ID[,ID] [--rounds N] [--seconds S]\n",
  );
  process.exit(2);
}
const rounds = Number(options.rounds);
const seconds = Number(options.seconds);
const enginePid = options["engine-pid"] === undefined ? undefined : Number(options["engine-pid"]);
if (enginePid !== undefined && !(Number.isInteger(enginePid) && enginePid > 0)) {
  process.stderr.write(`ab.js: --engine-pid must be a process id, got ${options["engine-pid"]}\n`);
  process.exit(2);
}

function settingsFor(cli: string | undefined, id: string, side: string): BenchSettings {
  return {
    latencyRate: 1_000,
    latencyWarmMs: 0,
    latencyMs: 0,
    throughputWarmMs: 2_000,
    throughputMs: seconds * 1_000,
    throughputRounds: rounds,
    pairWithRelay: false,
    concurrency: 64,
    window: 1_024,
    drainTimeoutMs: 30_000,
    idleSettleMs: 0,
    // startTarget names the profile after the scenario; a side of its own keeps A and B apart.
    profile: new Set(options.profile ? [id] : []),
    profileDir: options.profile ? path.resolve(options.profile, side) : "",
    ...(cli !== undefined ? { cli: path.resolve(cli) } : {}),
  };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const engines = new Engines();
const harness = await Harness.start();
try {
  for (const scenario of chosen) {
    const sides = [
      { name: "A", settings: settingsFor(options.a, scenario.id, "A") },
      { name: "B", settings: settingsFor(options.b, scenario.id, "B") },
    ];
    const loads: ScenarioLoad[] = [];
    for (const side of sides) {
      const target = await startTarget(scenario, harness, engines, side.settings);
      if ("skip" in target) throw new Error(`${scenario.id}: ${target.skip}`);
      const load = new ScenarioLoad(scenario, target, harness, side.settings);
      await load.drain(
        "warmup",
        await load.closed("warmup", side.settings.throughputWarmMs, scenario.types.length),
      );
      loads.push(load);
    }
    const cpu: number[][] = [[], []];
    const engineCpu: number[][] = [[], []];
    const rates: number[][] = [[], []];
    try {
      for (let n = 0; n < rounds; n++) {
        // Alternate which side goes first, so a drift in load does not favour one.
        const order = n % 2 === 0 ? [0, 1] : [1, 0];
        for (const i of order) {
          const engineBefore = enginePid === undefined ? undefined : readCpuSeconds(enginePid);
          const round = await loads[i]!.round(`r${n}`);
          cpu[i]!.push(round.cpuUsPerEvent ?? Number.NaN);
          rates[i]!.push(round.eventsPerSecond);
          const engineAfter = enginePid === undefined ? undefined : readCpuSeconds(enginePid);
          if (engineBefore !== undefined && engineAfter !== undefined && round.events)
            engineCpu[i]!.push(((engineAfter - engineBefore) * 1e6) / round.events);
        }
      }
    } finally {
      for (const load of loads) await load.target.stop();
    }
    const [a, b] = [median(cpu[0]!), median(cpu[1]!)];
    process.stdout.write(
      `${scenario.id}: CPU µs/event A ${cpu[0]!.map((x) => x.toFixed(0)).join(" ")} (median ${a.toFixed(1)}), ` +
        `B ${cpu[1]!.map((x) => x.toFixed(0)).join(" ")} (median ${b.toFixed(1)}), B−A ${(b - a).toFixed(1)}\n`,
    );
    const [ra, rb] = [median(rates[0]!), median(rates[1]!)];
    process.stdout.write(
      `${scenario.id}: events/s A ${rates[0]!.map((x) => x.toFixed(0)).join(" ")} (median ${ra.toFixed(0)}), ` +
        `B ${rates[1]!.map((x) => x.toFixed(0)).join(" ")} (median ${rb.toFixed(0)}), B/A ${(rb / ra).toFixed(2)}\n`,
    );
    if (engineCpu[0]!.length > 0 && engineCpu[1]!.length > 0) {
      const [ea, eb] = [median(engineCpu[0]!), median(engineCpu[1]!)];
      process.stdout.write(
        `${scenario.id}: engine CPU µs/event A ${engineCpu[0]!.map((x) => x.toFixed(1)).join(" ")} (median ${ea.toFixed(1)}), ` +
          `B ${engineCpu[1]!.map((x) => x.toFixed(1)).join(" ")} (median ${eb.toFixed(1)}), B−A ${(eb - ea).toFixed(1)}\n`,
      );
    }
    for (const load of loads) for (const p of load.problems) process.stdout.write(`  ${p}\n`);
  }
} finally {
  await harness.stop();
  await engines.stop();
}
