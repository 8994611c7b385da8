/**
 * `npm run bench` (CONTRACT §8): the bare relay as the baseline, then Eventail on each backing
 * with one trigger, fan-out to 10 triggers and 10,000 exact-type triggers; a filter
 * micro-benchmark; a table with every figure's ratio to the baseline, printed and written to
 * BENCHMARKS.md with the machine's description.
 *
 *   npm run bench -- [--quick] [--only id,id] [--profile id,id] [--out FILE] [--no-write]
 *                    [--cli OTHER/dist/src/cli/main.js]
 *
 * Then the extra measurements of bench/extras (ids wrk, kafka-baseline, fanout-cpu,
 * large-events, startup, many-resources), each against its own baseline in the same run; --only
 * takes their ids too, and --only naming extras alone runs no scenario.
 *
 * --quick: a smoke test (CI); it writes BENCHMARKS.md only when --out names a file.
 * --profile: runs those scenarios' measured process under `node --cpu-prof` (profiles in a temp
 * folder; `node dist/bench/profile-summary.js FILE` summarizes one).
 * --cli: measures another build (a checkout of another commit, built) against the same relay,
 * load generator and sink, for an A/B of two commits.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { benchCesql } from "./cesql.js";
import { extras, runExtra } from "./extras/index.js";
import { markdownExtras, terminalExtras } from "./extras/report.js";
import type { ExtraResult } from "./extras/types.js";
import { benchFilters, type FilterBenchRow } from "./filter-bench.js";
import {
  type BenchReport,
  markdownFilters,
  markdownGoals,
  markdownMachine,
  markdownProblems,
  markdownResults,
  terminalFilters,
  terminalGoals,
  terminalTable,
} from "./report.js";
import {
  type BenchSettings,
  Harness,
  quarterOf,
  runScenario,
  ScenarioLoad,
  type ScenarioResult,
  startTarget,
} from "./run-scenario.js";
import { BASELINE_ID, scenarios } from "./scenarios.js";
import { Engines } from "./support/engines.js";
import { describeMachine } from "./support/machine.js";
import { benchVerdict } from "./verdict.js";

const { values: options } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    profile: { type: "string" },
    out: { type: "string" },
    "no-write": { type: "boolean", default: false },
    cli: { type: "string" },
  },
});

const list = (text: string | undefined) =>
  new Set(
    (text ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

const quick = options.quick;
const profile = list(options.profile);
const settings: BenchSettings = {
  latencyRate: 1_000,
  latencyWarmMs: quick ? 300 : 2_000,
  latencyMs: quick ? 1_200 : 10_000,
  throughputWarmMs: quick ? 300 : 2_000,
  throughputMs: quick ? 1_200 : 10_000,
  throughputRounds: quick ? 1 : 3,
  // Quick mode is a smoke test of the harness (CI), kept under a minute.
  pairWithRelay: !quick,
  concurrency: 64,
  window: 1_024,
  drainTimeoutMs: quick ? 10_000 : 60_000,
  idleSettleMs: quick ? 500 : 2_000,
  profile,
  profileDir: profile.size > 0 ? mkdtempSync(path.join(tmpdir(), "eventail-profile-")) : "",
  ...(options.cli ? { cli: path.resolve(options.cli) } : {}),
};

const only = list(options.only);
// --only naming extra measurements alone runs no scenario (each extra brings its own baseline).
const anyScenario = only.size === 0 || scenarios().some((s) => only.has(s.id));
const chosen = anyScenario
  ? scenarios().filter((s) => only.size === 0 || only.has(s.id) || s.id === BASELINE_ID)
  : [];
const chosenExtras = extras().filter((e) => only.size === 0 || only.has(e.id));
for (const id of [...only, ...profile]) {
  const known = [...scenarios().map((s) => s.id), ...extras().map((e) => e.id)];
  if (!known.includes(id) || (profile.has(id) && !scenarios().some((s) => s.id === id))) {
    process.stderr.write(`unknown scenario ${id}; known: ${known.join(", ")}\n`);
    process.exit(2);
  }
}

const startedAt = Date.now();
const machine = describeMachine();
process.stdout.write(
  `eventail bench${quick ? " (quick)" : ""}: ${machine.cpu}, ${machine.cores} cores, ` +
    `${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadAtStart.join(" ")}\n`,
);

const engines = new Engines();
const harness = await Harness.start();
const stopAll = async () => {
  await harness.stop();
  await engines.stop();
};
process.once("SIGINT", () => {
  void stopAll().finally(() => process.exit(130));
});

/**
 * Quick mode starts every target at once, so their start-ups (seconds each on a busy machine)
 * overlap; a full run starts each one just before it is measured, with nothing else running.
 */
const prestarted = quick
  ? chosen.map((scenario) => startTarget(scenario, harness, engines, settings))
  : undefined;
if (prestarted) {
  const began = Date.now();
  await Promise.allSettled(prestarted);
  process.stdout.write(`started every target in ${((Date.now() - began) / 1000).toFixed(1)} s\n`);
}

/** A round of the relay for `scenario`'s ratios; what goes wrong in it is that scenario's problem. */
async function relayRound(relay: ScenarioLoad, scenario: ScenarioLoad, name: string) {
  const seen = relay.problems.length;
  const round = await relay.round(name);
  for (const problem of relay.problems.slice(seen)) {
    scenario.problems.push(`relay alongside: ${problem}`);
  }
  return round;
}

const results: ScenarioResult[] = [];
const extraResults: ExtraResult[] = [];
let rateCeiling = settings.latencyRate;
/** The relay, kept running after its own scenario when later rounds are paired with it. */
let relay: ScenarioLoad | undefined;
try {
  for (const [index, scenario] of chosen.entries()) {
    process.stdout.write(`- ${scenario.title} … `);
    const began = Date.now();
    const isBaseline = scenario.id === BASELINE_ID;
    let result: ScenarioResult;
    try {
      const target = await (prestarted?.[index] ??
        startTarget(scenario, harness, engines, settings));
      if ("skip" in target) {
        result = { id: scenario.id, title: scenario.title, skipped: target.skip, problems: [] };
      } else {
        const load = new ScenarioLoad(scenario, target, harness, settings);
        const paired = relay;
        result = await runScenario(
          load,
          {
            rateCeiling: isBaseline
              ? (sustained) => quarterOf(sustained, settings.latencyRate)
              : () => rateCeiling,
            ...(paired ? { relayRound: (name: string) => relayRound(paired, load, name) } : {}),
            keepRunning: isBaseline && settings.pairWithRelay,
          },
          settings,
        );
        if (isBaseline && settings.pairWithRelay) relay = load;
      }
    } catch (error) {
      result = {
        id: scenario.id,
        title: scenario.title,
        failed: (error as Error).message.split("\n")[0]!,
        problems: [],
      };
    }
    results.push(result);
    // Every later scenario's latency rate is capped at the baseline's (a quarter of what it
    // sustains, at most the wanted rate), so latency ratios compare equal loads.
    if (isBaseline && result.latencyRate !== undefined) {
      rateCeiling = result.latencyRate;
    }
    const took = `${((Date.now() - began) / 1000).toFixed(1)} s`;
    const alongside = result.alongside
      ? ` (relay alongside: ${Math.round(result.alongside.eventsPerSecond)} events/s)`
      : "";
    process.stdout.write(
      result.failed !== undefined
        ? `FAILED (${result.failed})\n`
        : result.skipped
          ? `skipped (${result.skipped})\n`
          : `${Math.round(result.eventsPerSecond ?? 0)} events/s${alongside}, p99 ${result.p99Ms?.toFixed(2)} ms at ${result.latencyRate}/s (${took})\n`,
    );
    for (const problem of result.problems) process.stdout.write(`    ${problem}\n`);
  }
  for (const extra of chosenExtras) {
    process.stdout.write(`- ${extra.title} … `);
    const began = Date.now();
    const result = await runExtra(extra, { harness, engines, settings, quick });
    extraResults.push(result);
    const took = `${((Date.now() - began) / 1000).toFixed(1)} s`;
    process.stdout.write(
      result.failed !== undefined
        ? `FAILED (${result.failed})\n`
        : result.skipped !== undefined
          ? `skipped (${result.skipped})\n`
          : `${result.rows.map((r) => `${r.what}: ${r.figure}${r.ratio ? ` (${r.ratio})` : ""}`).join("; ")} (${took})\n`,
    );
    for (const problem of result.problems) process.stdout.write(`    ${problem}\n`);
  }
} finally {
  await relay?.target.stop();
  if (prestarted) {
    await Promise.all(
      prestarted.map(async (p) => {
        const target = await p.catch(() => undefined);
        if (target && !("skip" in target)) await target.stop();
      }),
    );
  }
  await stopAll();
}

const filterMs = quick ? 100 : 500;
const filters: FilterBenchRow[] = [];
for (const dialect of ["attributes", "cesql"] as const) {
  for (const triggers of [1, 100, 10_000]) filters.push(benchFilters(triggers, dialect, filterMs));
}
const cesql = await benchCesql(quick ? 300 : 2_000);

const report: BenchReport = {
  machine,
  settings,
  quick,
  results,
  extras: extraResults,
  filters,
  cesql,
  durationMs: Date.now() - startedAt,
};

if (chosen.length > 0) {
  process.stdout.write(`\n${terminalTable(report)}\n\ngoals:\n${terminalGoals(results)}\n`);
}
if (extraResults.length > 0) {
  process.stdout.write(`\nmore measurements (issue 22):\n${terminalExtras(extraResults)}\n`);
}
process.stdout.write(`\nfilter match cost (CPU time per event):\n${terminalFilters(report)}\n`);
if (profile.size > 0) process.stdout.write(`\nCPU profiles in ${settings.profileDir}\n`);

const defaultOut = fileURLToPath(new URL("../../BENCHMARKS.md", import.meta.url));
const out = options.out ?? (quick || options["no-write"] ? undefined : defaultOut);
if (out !== undefined) {
  writeFileSync(out, benchmarksMarkdown(report, out));
  process.stdout.write(`\nwrote ${path.relative(process.cwd(), out) || out}\n`);
} else {
  process.stdout.write("\nBENCHMARKS.md left as it is (quick or --no-write run)\n");
}

const verdict = benchVerdict([...results, ...extraResults], { ci: process.env["CI"] === "true" });
if (verdict.lines.length > 0) process.stderr.write(`\n${verdict.lines.join("\n")}\n`);
process.exitCode = verdict.exitCode;

/** Hand-written notes after this marker survive a new run. */
function benchmarksMarkdown(report: BenchReport, file: string): string {
  const marker = "<!-- notes: kept by npm run bench -->";
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const notes = previous.includes(marker)
    ? previous.slice(previous.indexOf(marker))
    : `${marker}\n`;
  return `# Benchmarks

Written by \`npm run bench\` (see \`bench/\`, CONTRACT §8). Every figure's ratio is to the bare
relay in the same run: the same load generator and sink, with a fastify → undici keep-alive
relay in place of Eventail. Throughput and CPU ratios are to relay rounds run alongside each
scenario's (one just before each of its rounds), so both sides of a ratio see the same machine.
The load generator, the sink and the measured process are separate processes on the same
machine; latency is from the producer's send to the sink's receipt, recorded in an HDR
histogram.

${markdownMachine(report)}

## End to end

${markdownResults(report)}

- events/s: closed loop, sustained (accepted events ÷ time until the last one reached the sink
  and the measured process went quiet, so work deferred past the last delivery counts too), the
  best of the rounds (other work on the machine only ever slows a round down);
  deliveries/s counts every trigger's delivery. relay alongside ev/s: the best of the relay
  rounds run just before this scenario's rounds, what its ratios are taken against; the goals
  comparing two Eventail scenarios (fan-out, 10,000 triggers against 1 trigger) compare their
  shares of their own relay rounds. p50/p99/p99.9: open loop, at the rate in
  "latency at". CPU µs/event: CPU time of the measured process (relay or Eventail) per event in
  the throughput phase, the figure that best survives other work on the cores. idle RSS: 2 s
  after start-up and one event; peak RSS: VmHWM at the end.
- load 1m: the machine's 1-minute load average at the start and end of the scenario (2 cores).

${markdownProblems(report.results)}
## Goals

${markdownGoals(report.results)}

## More measurements

${markdownExtras(report.extras ?? [])}

Each figure's baseline was taken in the same run: the relay under the same load (wrk, event
size, fan-out CPU), a bare kafkajs producer → consumer pair on the same Kafka (latency), or a
fixed goal (start-up).

## Filter matching

${markdownFilters(report)}

CPU time to match one event against every trigger of a broker (each trigger pins one exact
\`type\`), compiled with \`compileFilter\`; "type index" looks the event's type up first.
CESQL (bench/cesql.ts, \`${"type = 'com.example.order' AND source LIKE '/shop/%' AND EXISTS region"}\`):
${report.cesql?.evaluationsPerSecond.toLocaleString("en-US")} evaluations/s,
${report.cesql?.cpuEvaluationsPerSecond.toLocaleString("en-US")} per CPU-second.

${notes}`;
}
