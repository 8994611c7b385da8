/** The table of a bench run, for the terminal and for BENCHMARKS.md, and the goals it is held to. */
import type { ExtraResult } from "./extras/types.js";
import type { FilterBenchRow } from "./filter-bench.js";
import type { BenchSettings, ScenarioResult, ThroughputRound } from "./run-scenario.js";
import { AUTHENTICATION_ID, JOURNEY_GOALS, journeysOffId, TRACING_ID } from "./scenarios.js";
import type { MachineDescription } from "./support/machine.js";

export interface BenchReport {
  readonly machine: MachineDescription;
  readonly settings: BenchSettings;
  readonly quick: boolean;
  readonly results: readonly ScenarioResult[];
  /** bench/extras: measurements other than the scenario table's. */
  readonly extras?: readonly ExtraResult[];
  readonly filters: readonly FilterBenchRow[];
  readonly cesql?: { evaluationsPerSecond: number; cpuEvaluationsPerSecond: number };
  readonly durationMs: number;
}

const MB = 1024 * 1024;

function number(value: number, digits = 0): string {
  return value.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function ratio(value: number | undefined, baseline: number | undefined): string {
  if (value === undefined || baseline === undefined || baseline === 0) return "";
  return ` (${number(value / baseline, 2)}×)`;
}

interface Column {
  readonly title: string;
  readonly cell: (result: ScenarioResult, baseline: ScenarioResult | undefined) => string;
}

/**
 * A figure and its ratio to the baseline's: to the relay's rounds run alongside the scenario when
 * there were some (`alongside` picks the same figure from them), otherwise to the relay's row.
 */
function figure(
  title: string,
  pick: (result: ScenarioResult) => number | undefined,
  digits: number,
  options: { scale?: number; alongside?: (round: ThroughputRound) => number | undefined } = {},
): Column {
  const { scale = 1, alongside } = options;
  return {
    title,
    cell: (result, baseline) => {
      const value = pick(result);
      if (value === undefined) return "–";
      const base =
        alongside !== undefined && result.alongside !== undefined
          ? alongside(result.alongside)
          : baseline === undefined
            ? undefined
            : pick(baseline);
      return number(value / scale, digits) + ratio(value, base);
    },
  };
}

const COLUMNS: readonly Column[] = [
  { title: "scenario", cell: (r) => r.title },
  figure("events/s", (r) => r.eventsPerSecond, 0, { alongside: (a) => a.eventsPerSecond }),
  figure("deliveries/s", (r) => r.deliveriesPerSecond, 0, {
    alongside: (a) => a.deliveriesPerSecond,
  }),
  {
    title: "relay alongside ev/s",
    cell: (r) => (r.alongside === undefined ? "–" : number(r.alongside.eventsPerSecond)),
  },
  {
    title: "latency at /s",
    cell: (r) => (r.latencyRate === undefined ? "–" : number(r.latencyRate)),
  },
  figure("p50 ms", (r) => r.p50Ms, 2),
  figure("p99 ms", (r) => r.p99Ms, 2),
  figure("p99.9 ms", (r) => r.p999Ms, 2),
  figure("CPU µs/event", (r) => r.cpuUsPerEvent, 0, { alongside: (a) => a.cpuUsPerEvent }),
  figure("idle RSS MB", (r) => r.idleRss, 0, { scale: MB }),
  figure("peak RSS MB", (r) => r.peakRss, 0, { scale: MB }),
  {
    title: "load 1m",
    cell: (r) => (r.load ? `${number(r.load[0], 1)}→${number(r.load[1], 1)}` : "–"),
  },
];

/** Why a scenario has no figures, when it has none. */
function missing(result: ScenarioResult): string | undefined {
  if (result.failed !== undefined) return `failed: ${result.failed}`;
  return result.skipped === undefined ? undefined : `skipped: ${result.skipped}`;
}

function rows(report: BenchReport): string[][] {
  const first = report.results[0];
  const baseline = first === undefined || missing(first) !== undefined ? undefined : first;
  return report.results.map((result) => {
    const why = missing(result);
    return why !== undefined
      ? [result.title, why, ...COLUMNS.slice(2).map(() => "")]
      : COLUMNS.map((column) => column.cell(result, baseline));
  });
}

export function terminalTable(report: BenchReport): string {
  const header = COLUMNS.map((c) => c.title);
  const noFigures = (cell: string | undefined) =>
    cell !== undefined && (cell.startsWith("skipped") || cell.startsWith("failed"));
  const body = rows(report).map((row) => (noFigures(row[1]) ? [row[0]!, row[1]!] : row));
  const widths = header.map((title, i) =>
    Math.max(title.length, ...body.filter((r) => r.length > 2).map((r) => r[i]!.length)),
  );
  const line = (cells: string[]) =>
    cells.length === 2 && noFigures(cells[1])
      ? `${cells[0]!.padEnd(widths[0]!)}  ${cells[1]}`
      : cells
          .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
          .join("  ");
  return [line(header), ...body.map(line)].join("\n");
}

export interface Goal {
  readonly goal: string;
  readonly reached: string;
  readonly met: boolean | undefined;
}

/** Issue 7's goals, checked against this run (ratios within one run). */
export function goals(results: readonly ScenarioResult[]): Goal[] {
  const byId = new Map(
    results.filter((r) => !r.skipped && r.failed === undefined).map((r) => [r.id, r]),
  );
  const relay = byId.get("relay");
  const one = byId.get("memory-1");
  const fanout = byId.get("memory-fanout-10");
  const many = byId.get("memory-10k");
  const list: Goal[] = [];
  const atLeast = (
    goal: string,
    value: number | undefined,
    wanted: number | undefined,
    what: string,
  ) => {
    if (value === undefined || wanted === undefined) {
      list.push({ goal, reached: "not measured", met: undefined });
      return;
    }
    list.push({ goal, reached: what, met: value >= wanted });
  };
  const x = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? "–" : `${number(a / b, 2)}×`;
  /** A scenario's figure as a share of the relay's rounds alongside it (else of the relay's row). */
  const shareOf = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? undefined : a / b;
  const share = (
    result: ScenarioResult | undefined,
    pick: (r: ScenarioResult) => number | undefined,
  ) =>
    result === undefined
      ? undefined
      : shareOf(pick(result), result.alongside?.eventsPerSecond ?? relay?.eventsPerSecond);
  const events = (r: ScenarioResult) => r.eventsPerSecond;
  const deliveries = (r: ScenarioResult) => r.deliveriesPerSecond;

  atLeast(
    "memory, 1 trigger: events/s ≥ 0.9 × relay",
    share(one, events),
    0.9,
    x(share(one, events), 1),
  );
  // Both sides as shares of their own relay rounds, so a machine that slowed down in between
  // does not count against the later scenario.
  const fanoutShare = shareOf(share(fanout, deliveries), share(one, events));
  atLeast(
    "fan-out 10: deliveries/s ≥ 0.8 × 10 × 1-trigger events/s",
    fanoutShare,
    8,
    `${x(fanoutShare, 1)} the 1-trigger events/s (goal 8×)`,
  );
  const authenticated = byId.get(AUTHENTICATION_ID);
  const authShare = shareOf(share(authenticated, events), share(one, events));
  atLeast(
    "authentication on (memory, 1 trigger): events/s ≥ 0.85 × authentication off",
    authShare,
    0.85,
    x(authShare, 1),
  );
  const traced = byId.get(TRACING_ID);
  const tracingShare = shareOf(share(traced, events), share(one, events));
  atLeast(
    "tracing on, exported to a local OTLP receiver (memory, 1 trigger): events/s ≥ 0.8 × tracing off",
    tracingShare,
    0.8,
    x(tracingShare, 1),
  );
  // Issue 17: journeys are on by default, so the plain 1-trigger scenario is the "on" side.
  for (const [backing, wanted] of JOURNEY_GOALS) {
    const on = byId.get(`${backing}-1`);
    const off = byId.get(journeysOffId(backing));
    const journeysShare = shareOf(share(on, events), share(off, events));
    atLeast(
      `journeys on (${backing}, 1 trigger): events/s ≥ ${wanted} × journeys off`,
      journeysShare,
      wanted,
      x(journeysShare, 1),
    );
  }
  const manyShare = shareOf(share(many, events), share(one, events));
  atLeast(
    "10,000 type triggers: events/s ≥ 0.9 × 1-trigger events/s",
    manyShare,
    0.9,
    x(manyShare, 1),
  );
  const added =
    one?.p99Ms === undefined || relay?.p99Ms === undefined ? undefined : one.p99Ms - relay.p99Ms;
  const sameRate = one?.latencyRate === relay?.latencyRate;
  list.push({
    goal: "memory, 1 trigger: p99 at the open-loop rate ≤ relay p99 + 2 ms",
    reached:
      added === undefined
        ? "not measured"
        : `${added >= 0 ? "+" : ""}${number(added, 2)} ms${sameRate ? "" : " (at a lower rate than the relay)"}`,
    met: added === undefined ? undefined : added <= 2,
  });
  for (const [id, wanted] of [
    ["redis-1", 0.5],
    ["nats-1", 0.5],
    ["kafka-1", 0.3],
  ] as const) {
    const ratioToRelay = share(byId.get(id), events);
    atLeast(
      `${id.replace("-1", "")}, 1 trigger: events/s ≥ ${wanted} × relay`,
      ratioToRelay,
      wanted,
      x(ratioToRelay, 1),
    );
  }
  list.push({
    goal: "idle RSS (memory, 1 trigger) ≤ 80 MB",
    reached: one?.idleRss === undefined ? "not measured" : `${number(one.idleRss / MB, 0)} MB`,
    met: one?.idleRss === undefined ? undefined : one.idleRss <= 80 * MB,
  });
  const extra =
    many?.idleRss === undefined || one?.idleRss === undefined
      ? undefined
      : many.idleRss - one.idleRss;
  list.push({
    goal: "10,000 triggers add ≤ 100 MB of idle RSS",
    reached: extra === undefined ? "not measured" : `+${number(extra / MB, 0)} MB`,
    met: extra === undefined ? undefined : extra <= 100 * MB,
  });
  return list;
}

function mark(met: boolean | undefined): string {
  return met === undefined ? "–" : met ? "yes" : "no";
}

export function terminalGoals(results: readonly ScenarioResult[]): string {
  return goals(results)
    .map((g) => `  [${mark(g.met).padEnd(3)}] ${g.goal}: ${g.reached}`)
    .join("\n");
}

export function terminalFilters(report: BenchReport): string {
  const lines = report.filters.map(
    (row) =>
      `  ${row.dialect.padEnd(10)} ${number(row.triggers).padStart(6)} triggers: ` +
      `scan ${number(row.scanNsPerEvent / 1000, 2)} µs/event, ` +
      `type index ${number(row.indexNsPerEvent / 1000, 2)} µs/event`,
  );
  if (report.cesql) {
    lines.push(
      `  cesql bench (bench/cesql.ts): ${number(report.cesql.evaluationsPerSecond)} evaluations/s ` +
        `(${number(report.cesql.cpuEvaluationsPerSecond)} per CPU-second)`,
    );
  }
  return lines.join("\n");
}

function markdownTable(header: readonly string[], body: readonly string[][]): string {
  const cellText = (cell: string) => cell.replaceAll("|", "\\|");
  return [
    `| ${header.map(cellText).join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...body.map((row) => `| ${row.map(cellText).join(" | ")} |`),
  ].join("\n");
}

/** The scenario table in Markdown (BENCHMARKS.md and the README's Performance section). */
export function markdownResults(report: BenchReport): string {
  return markdownTable(
    COLUMNS.map((c) => c.title),
    rows(report),
  );
}

export function markdownGoals(results: readonly ScenarioResult[]): string {
  return markdownTable(
    ["goal (issue 7)", "this run", "met"],
    goals(results).map((g) => [g.goal, g.reached, mark(g.met)]),
  );
}

export function markdownFilters(report: BenchReport): string {
  return markdownTable(
    ["filters", "triggers", "scan µs/event", "type index µs/event"],
    report.filters.map((row) => [
      row.dialect === "attributes" ? "filter.attributes type" : "CESQL type = '…'",
      number(row.triggers),
      number(row.scanNsPerEvent / 1000, 3),
      number(row.indexNsPerEvent / 1000, 3),
    ]),
  );
}

export function markdownMachine(report: BenchReport): string {
  const m = report.machine;
  const s = report.settings;
  const rate = report.results[0]?.latencyRate;
  const rateNote =
    rate === undefined || rate === s.latencyRate
      ? `${number(s.latencyRate)} events/s`
      : `${number(rate)} events/s (${number(s.latencyRate)} wanted: lowered to a quarter of what the relay sustained, which is what this machine could afford during the run)`;
  return [
    `- CPU: ${m.cpu}, ${m.cores} cores; memory ${m.memoryGiB} GiB; ${m.os}`,
    `- Node ${m.node}; run at ${m.date}; load average at start ${m.loadAtStart.join(" / ")}`,
    `- throughput: closed loop, ${s.concurrency} requests and at most ${number(s.window)} events in ` +
      `flight end to end, the best of ${s.throughputRounds} rounds of ${s.throughputMs / 1000} s after ${s.throughputWarmMs / 1000} s of warm-up (longer when needed to send every event type once: every trigger has seen an event before the measurement)` +
      (s.pairWithRelay
        ? "; the relay keeps running, and a round of it goes just before each round of every other scenario: that scenario's throughput and CPU ratios are to the best of those relay rounds (column relay alongside)"
        : ""),
    `- latency: open loop at ${rateNote}, ${s.latencyMs / 1000} s after ${s.latencyWarmMs / 1000} s of warm-up; ` +
      "a scenario that sustains less than twice that rate is measured at half what it sustains (column latency at)",
    `- ${report.quick ? "quick mode; " : ""}whole run ${number(report.durationMs / 1000, 0)} s`,
  ].join("\n");
}

export function markdownProblems(results: readonly ScenarioResult[]): string {
  const lines = results.flatMap((r) => r.problems.map((p) => `- ${r.title}: ${p}`));
  return lines.length === 0 ? "" : `Problems seen during the run:\n\n${lines.join("\n")}\n`;
}
