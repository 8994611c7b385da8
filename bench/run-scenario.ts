import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type {
  ClosedLoad,
  LoadgenReady,
  LoadResult,
  OpenLoad,
  PhaseReport,
  RelayReady,
  SinkReady,
} from "./processes/protocol.js";
import type { Scenario } from "./scenarios.js";
import type { Engines } from "./support/engines.js";
import { EventailTarget } from "./support/eventail-target.js";
import { writeTopology } from "./support/manifests.js";
import { readCpuSeconds, readMemory, settled } from "./support/proc.js";
import { HelperProcess } from "./support/rpc.js";

export interface BenchSettings {
  /** Open-loop rate for the latency figures, events/s (lowered when the relay cannot do 4×). */
  readonly latencyRate: number;
  readonly latencyWarmMs: number;
  readonly latencyMs: number;
  readonly throughputWarmMs: number;
  readonly throughputMs: number;
  /**
   * Closed-loop rounds per scenario; the best one counts. Other work on a shared machine only
   * ever slows a round down, so the best of a few is the figure least bent by it (the relay's
   * and every scenario's alike).
   */
  readonly throughputRounds: number;
  /** Closed loop: requests in flight, and events in flight end to end. */
  readonly concurrency: number;
  readonly window: number;
  /** Longest wait for the last deliveries of a phase, and for the process to go quiet. */
  readonly drainTimeoutMs: number;
  /**
   * How long the process sits idle after start-up and one event before its RSS is read (V8's
   * memory reducer sometimes returns start-up garbage ~8 s after activity stops, not always:
   * the figure is what a process holds shortly after start, without counting on it).
   */
  readonly idleSettleMs: number;
  /** Scenario ids to run under `node --cpu-prof`, and where the profiles go. */
  readonly profile: ReadonlySet<string>;
  readonly profileDir: string;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Why the scenario did not run. */
  readonly skipped?: string;
  readonly eventsPerSecond?: number;
  readonly deliveriesPerSecond?: number;
  /** The open-loop rate the latency figures were taken at. */
  readonly latencyRate?: number;
  /** Open-loop end-to-end latency, ms. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly p999Ms?: number;
  readonly maxMs?: number;
  /** CPU time of the measured process per event during the throughput phase, µs. */
  readonly cpuUsPerEvent?: number;
  /** RSS after start-up and one probe event, bytes. */
  readonly idleRss?: number;
  /** VmHWM at the end, bytes. */
  readonly peakRss?: number;
  /** Start to the first event delivered, ms. */
  readonly startupMs?: number;
  /** 1-minute load average at the start and the end of the scenario. */
  readonly load?: readonly [number, number];
  /** Anything that did not go to plan (refusals, deliveries that never came). */
  readonly problems: readonly string[];
}

function once(action: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= action();
    return done;
  };
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** The helper processes every scenario shares: the sink and the load generator. */
export class Harness {
  private constructor(
    readonly sink: HelperProcess<SinkReady>,
    readonly loadgen: HelperProcess<LoadgenReady>,
  ) {}

  static async start(): Promise<Harness> {
    const sink = await HelperProcess.start<SinkReady>("sink", here("processes/sink.js"));
    const loadgen = await HelperProcess.start<LoadgenReady>(
      "loadgen",
      here("processes/loadgen.js"),
    );
    await sink.call("connectFeedback", { port: loadgen.ready.feedbackPort });
    return new Harness(sink, loadgen);
  }

  async stop(): Promise<void> {
    await Promise.all([this.sink.stop(), this.loadgen.stop()]);
  }
}

/** The process a scenario measures (the relay or an `eventail run`), started and serving. */
export interface RunningTarget {
  readonly pid: number;
  readonly ingressUrl: string;
  /** When it was started (Date.now()). */
  readonly startedAt: number;
  stop(): Promise<void>;
}

export type PreparedTarget = RunningTarget | { readonly skip: string };

export async function startTarget(
  scenario: Scenario,
  harness: Harness,
  engines: Engines,
  settings: BenchSettings,
): Promise<PreparedTarget> {
  const startedAt = Date.now();
  const profileFlags = settings.profile.has(scenario.id)
    ? [
        "--cpu-prof",
        `--cpu-prof-dir=${settings.profileDir}`,
        `--cpu-prof-name=${scenario.id}.cpuprofile`,
      ]
    : [];
  const target = scenario.target;
  if (target.kind === "relay") {
    const relay = await HelperProcess.start<RelayReady>(
      "relay",
      here("processes/relay.js"),
      [`${harness.sink.ready.url}/t/0`],
      profileFlags,
    );
    return {
      pid: relay.pid,
      ingressUrl: relay.ready.url,
      startedAt,
      stop: once(() => relay.stop()),
    };
  }
  const backing = target.backing;
  let connection: Record<string, string> = {};
  let engineUrl: string | undefined;
  if (backing !== "memory") {
    const located = await engines.locate(backing);
    if ("skip" in located) return { skip: located.skip };
    engineUrl = located.url;
    connection = backing === "kafka" ? { "bootstrap.servers": engineUrl } : { url: engineUrl };
  }
  const topology = writeTopology({
    backing,
    settings: connection,
    triggers: target.triggers,
    ...(target.filtered ? { typeOf: (i: number) => scenario.types[i]! } : {}),
    subscriber: harness.sink.ready.url,
  });
  const cleanUp = async () => {
    topology.remove();
    if (engineUrl !== undefined && backing !== "memory") {
      await engines.forget(backing, engineUrl, topology.namespace);
    }
  };
  let eventail: EventailTarget;
  try {
    eventail = await EventailTarget.start({ manifests: topology.dir, nodeFlags: profileFlags });
  } catch (error) {
    await cleanUp();
    return { skip: `eventail did not start on ${backing}: ${(error as Error).message}` };
  }
  return {
    pid: eventail.pid,
    ingressUrl: `${eventail.url}${topology.ingressPath}`,
    startedAt,
    stop: once(async () => {
      await eventail.stop();
      await cleanUp();
    }),
  };
}

/** Sends single events until one comes through: durable consumers may take a moment to exist. */
async function probe(
  scenario: Scenario,
  harness: Harness,
  url: string,
): Promise<string | undefined> {
  const phase = `${scenario.id}:probe`;
  const spec = { url, phase, durationMs: 0, types: scenario.types, fanout: scenario.fanout };
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    last = await harness.loadgen.call<string>("one", spec);
    const report = await harness.sink.call<PhaseReport>("waitFor", {
      phase,
      count: scenario.fanout,
      timeoutMs: 1_000,
    });
    if (report.count >= scenario.fanout) return undefined;
  }
  return `no probe event reached the sink within 60 s (last answer ${last})`;
}

/**
 * A latency figure taken at saturation measures the queue, not the path. The open-loop rate is
 * the wanted one, lowered when this machine cannot afford it today: to a quarter of what the
 * baseline sustains (`ceiling`, see quarterOf), and for each scenario to half of what it
 * sustains itself (fan-out to ten triggers is ten deliveries per event). Multiples of 50.
 */
export function affordableRate(ceiling: number, sustainedEventsPerSecond: number): number {
  const half = Math.floor((sustainedEventsPerSecond * 0.5) / 50) * 50;
  return Math.max(50, Math.min(ceiling, half));
}

/** A quarter of a sustained rate, in multiples of 50 events/s, at most `wanted`. */
export function quarterOf(sustainedEventsPerSecond: number, wanted: number): number {
  const quarter = Math.floor((sustainedEventsPerSecond * 0.25) / 50) * 50;
  return Math.max(50, Math.min(wanted, quarter));
}

/** Measures one scenario on its started target; stops the target at the end. */
export async function runScenario(
  scenario: Scenario,
  target: RunningTarget,
  harness: Harness,
  settings: BenchSettings,
  /** The highest open-loop rate for latency, given what this scenario sustains (see affordableRate). */
  rateCeiling: (sustainedEventsPerSecond: number) => number,
): Promise<ScenarioResult> {
  const base = { id: scenario.id, title: scenario.title };
  const loadStart = loadavg()[0]!;
  const problems: string[] = [];
  try {
    const unreachable = await probe(scenario, harness, target.ingressUrl);
    if (unreachable) return { ...base, skipped: unreachable, problems };
    const startupMs = Date.now() - target.startedAt;
    await sleep(settings.idleSettleMs);
    const idleRss = readMemory(target.pid)?.rss;

    const spec = { url: target.ingressUrl, types: scenario.types, fanout: scenario.fanout };
    const phaseName = (phase: string) => `${scenario.id}:${phase}`;
    /** Waits until every accepted event of the phase reached the sink (or the drain timeout). */
    const drain = async (phase: string, load: LoadResult): Promise<PhaseReport> => {
      const expected = load.accepted * scenario.fanout;
      const report = await harness.sink.call<PhaseReport>("waitFor", {
        phase: phaseName(phase),
        count: expected,
        timeoutMs: settings.drainTimeoutMs,
      });
      const refused = Object.entries(load.refused);
      if (refused.length > 0) {
        problems.push(`${phase}: refused ${refused.map(([code, n]) => `${n}×${code}`).join(", ")}`);
      }
      if (report.count < expected) {
        problems.push(
          `${phase}: ${expected - report.count} of ${expected} deliveries missing after ${settings.drainTimeoutMs} ms`,
        );
      }
      await harness.sink.call("forget", { phase: phaseName(phase) });
      return report;
    };
    const closed = (phase: string, durationMs: number, minEvents = 0) =>
      harness.loadgen.call<LoadResult>("closed", {
        ...spec,
        phase: phaseName(phase),
        durationMs,
        concurrency: settings.concurrency,
        window: settings.window,
        minEvents,
      } satisfies ClosedLoad);
    const open = (phase: string, durationMs: number, rate: number) =>
      harness.loadgen.call<LoadResult>("open", {
        ...spec,
        phase: phaseName(phase),
        durationMs,
        rate,
      } satisfies OpenLoad);

    // Steady state: the warm-up reaches every trigger at least once (first-event work such as
    // parsing a subscriber URL is paid there, as it is long before a real broker's busy hour).
    await drain(
      "throughput-warmup",
      await closed("throughput-warmup", settings.throughputWarmMs, scenario.types.length),
    );
    /** One closed-loop round: events, deliveries, seconds and CPU µs per event. */
    const round = async (name: string) => {
      await settled(target.pid, settings.drainTimeoutMs);
      const cpuBefore = readCpuSeconds(target.pid);
      const load = await closed(name, settings.throughputMs);
      const throughput = await drain(name, load);
      const quietUs = await settled(target.pid, settings.drainTimeoutMs);
      const cpuAfter = readCpuSeconds(target.pid);
      const seconds = (Math.max(throughput.lastUs, quietUs) - load.startUs) / 1e6;
      const events = Math.min(load.accepted, throughput.count / scenario.fanout);
      const cpuUsPerEvent =
        cpuBefore !== undefined && cpuAfter !== undefined && events > 0
          ? ((cpuAfter - cpuBefore) * 1e6) / events
          : undefined;
      return { events, deliveries: throughput.count, seconds, cpuUsPerEvent };
    };
    let best = await round("throughput");
    for (let n = 2; n <= settings.throughputRounds; n++) {
      const next = await round(`throughput-${n}`);
      if (next.events / next.seconds > best.events / best.seconds) best = next;
    }
    const { events, seconds, cpuUsPerEvent } = best;
    const latencyRate = affordableRate(rateCeiling(events / seconds), events / seconds);

    await drain(
      "latency-warmup",
      await open("latency-warmup", settings.latencyWarmMs, latencyRate),
    );
    const openLoad = await open("latency", settings.latencyMs, latencyRate);
    const latency = await drain("latency", openLoad);
    const behindMs = (latency.lastUs - openLoad.endUs) / 1000;
    if (behindMs > 1_000) {
      problems.push(
        `latency: the last delivery came ${Math.round(behindMs)} ms after the last send (saturated at ${latencyRate}/s)`,
      );
    }
    const peakRss = readMemory(target.pid)?.peakRss;

    return {
      ...base,
      eventsPerSecond: events / seconds,
      deliveriesPerSecond: best.deliveries / seconds,
      latencyRate,
      p50Ms: latency.p50Us / 1000,
      p99Ms: latency.p99Us / 1000,
      p999Ms: latency.p999Us / 1000,
      maxMs: latency.maxUs / 1000,
      ...(cpuUsPerEvent !== undefined ? { cpuUsPerEvent } : {}),
      ...(idleRss !== undefined ? { idleRss } : {}),
      ...(peakRss !== undefined ? { peakRss } : {}),
      startupMs,
      load: [loadStart, loadavg()[0]!],
      problems,
    };
  } finally {
    await target.stop();
  }
}
