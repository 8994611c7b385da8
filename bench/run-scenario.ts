import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { generateSigningKeyPem, KeyRing, loadSigningKey } from "../src/security/signing-keys.js";
import { EventailProcess } from "../test/support/eventail-process.js";
import type {
  ClosedLoad,
  LoadgenReady,
  LoadResult,
  LoadSpec,
  OpenLoad,
  OtlpReceived,
  OtlpReceiverReady,
  PhaseReport,
  RelayReady,
  SinkReady,
} from "./processes/protocol.js";
import type { Scenario } from "./scenarios.js";
import type { Engines } from "./support/engines.js";
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
  /**
   * Run a round of the relay just before each round of every other scenario, and take that
   * scenario's throughput ratios against those rounds: a ratio then compares two figures taken
   * a few seconds apart, whatever else the machine does over the whole run.
   */
  readonly pairWithRelay: boolean;
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
  /** Another build's dist/src/cli/main.js to measure instead of this one (an A/B of two commits). */
  readonly cli?: string;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Why the scenario did not run: its engine is absent (the run still passes outside CI). */
  readonly skipped?: string;
  /** The error that stopped the scenario (the run fails). */
  readonly failed?: string;
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
  /** The relay's best round among those run alongside this scenario's (pairWithRelay). */
  readonly alongside?: ThroughputRound;
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
  /** Headers every event needs (a bearer token where authentication is on). */
  readonly headers?: Readonly<Record<string, string>>;
  /** After the measurements: what went wrong around the target (no span reached the receiver). */
  check?(): Promise<string | undefined>;
  stop(): Promise<void>;
}

/** A running target, or why its engine is absent; a target that fails to start throws. */
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
  const signingKeyPem = target.authentication ? generateSigningKeyPem() : undefined;
  const topology = writeTopology({
    backing,
    settings: connection,
    triggers: target.triggers,
    ...(target.filtered ? { typeOf: (i: number) => scenario.types[i]! } : {}),
    subscriber: harness.sink.ready.url,
    ...(signingKeyPem !== undefined ? { signingKeyPem } : {}),
    ...(target.eventTypes !== undefined
      ? { eventTypes: { mode: target.eventTypes, type: scenario.types[0]! } }
      : {}),
  });
  const cleanUp = async () => {
    topology.remove();
    if (engineUrl !== undefined && backing !== "memory") {
      await engines.forget(backing, engineUrl, topology.namespace);
    }
  };
  const receiver = target.tracing
    ? await HelperProcess.start<OtlpReceiverReady>(
        "otlp-receiver",
        here("processes/otlp-receiver.js"),
      )
    : undefined;
  let eventail: EventailProcess;
  try {
    eventail = await EventailProcess.start("eventail", {
      manifests: [topology.dir],
      nodeFlags: profileFlags,
      noWatch: true,
      readyTimeoutMs: 120_000,
      ...(settings.cli ? { cli: settings.cli } : {}),
      ...(target.journeys === false ? { args: ["--journey-size", "0"] } : {}),
      ...(receiver ? { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.ready.url } } : {}),
    });
  } catch (error) {
    await receiver?.stop();
    await cleanUp();
    throw new Error(`eventail did not start on ${backing}: ${(error as Error).message}`);
  }
  return {
    pid: eventail.pid,
    ingressUrl: `${eventail.url}${topology.ingressPath}`,
    startedAt,
    ...(signingKeyPem !== undefined
      ? {
          headers: {
            authorization: `Bearer ${producerToken(signingKeyPem, eventail.url, topology.namespace)}`,
          },
        }
      : {}),
    ...(receiver
      ? {
          check: async () => {
            const received = await receiver.call<OtlpReceived>("received", {});
            return received.requests === 0 ? "tracing: no export reached the receiver" : undefined;
          },
        }
      : {}),
    stop: once(async () => {
      await eventail.stop();
      await receiver?.stop();
      await cleanUp();
    }),
  };
}

/**
 * The producer's token: signed with the key the manifests give Eventail, for the broker's
 * audience, by a subject of the broker's namespace (allowed by the default authorization mode).
 */
function producerToken(pem: string, issuer: string, namespace: string): string {
  const ring = new KeyRing({ publishAheadMs: 0 });
  ring.setKeys([loadSigningKey("bench.pem", pem)]);
  const iat = Math.floor(Date.now() / 1000);
  return ring.sign({
    iss: issuer,
    sub: `system:serviceaccount:${namespace}:bench-producer`,
    aud: `eventing.knative.dev/broker/${namespace}/default`,
    iat,
    exp: iat + 6 * 3600,
  });
}

/** Sends single events until one comes through: durable consumers may take a moment to exist. */
export async function probe(
  scenario: Scenario,
  harness: Harness,
  target: RunningTarget,
): Promise<string | undefined> {
  const phase = `${scenario.id}:probe`;
  const spec = {
    url: target.ingressUrl,
    phase,
    durationMs: 0,
    types: scenario.types,
    fanout: scenario.fanout,
    ...(target.headers ? { headers: target.headers } : {}),
  };
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

/** One closed-loop round: what reached the sink, how fast, and the CPU it took. */
export interface ThroughputRound {
  readonly eventsPerSecond: number;
  readonly deliveriesPerSecond: number;
  /** Events counted by the round (lets a caller divide other processes' CPU by them). */
  readonly events?: number;
  /** CPU time of the measured process per event, µs. */
  readonly cpuUsPerEvent?: number;
}

function faster(a: ThroughputRound | undefined, b: ThroughputRound): ThroughputRound {
  return a === undefined || b.eventsPerSecond > a.eventsPerSecond ? b : a;
}

/** The load phases of one scenario on its running target; what went wrong goes to `problems`. */
export class ScenarioLoad {
  readonly problems: string[] = [];
  private readonly spec: {
    url: string;
    types: readonly string[];
    fanout: number;
    headers?: Readonly<Record<string, string>>;
  };

  constructor(
    readonly scenario: Scenario,
    readonly target: RunningTarget,
    readonly harness: Harness,
    private readonly settings: BenchSettings,
    /** Body size and request paths other than the default (bench/extras). */
    body: Pick<LoadSpec, "payloadBytes" | "paths"> = {},
  ) {
    this.spec = {
      url: target.ingressUrl,
      types: scenario.types,
      fanout: scenario.fanout,
      ...(target.headers ? { headers: target.headers } : {}),
      ...body,
    };
  }

  private phaseName(phase: string): string {
    return `${this.scenario.id}:${phase}`;
  }

  /** Waits until every accepted event of the phase reached the sink (or the drain timeout). */
  async drain(phase: string, load: LoadResult): Promise<PhaseReport> {
    const { harness, settings } = this;
    const expected = load.accepted * this.scenario.fanout;
    const report = await harness.sink.call<PhaseReport>("waitFor", {
      phase: this.phaseName(phase),
      count: expected,
      timeoutMs: settings.drainTimeoutMs,
    });
    const refused = Object.entries(load.refused);
    if (refused.length > 0) {
      this.problems.push(
        `${phase}: refused ${refused.map(([code, n]) => `${n}×${code}`).join(", ")}`,
      );
    }
    if (report.count < expected) {
      this.problems.push(
        `${phase}: ${expected - report.count} of ${expected} deliveries missing after ${settings.drainTimeoutMs} ms`,
      );
    }
    await harness.sink.call("forget", { phase: this.phaseName(phase) });
    return report;
  }

  closed(phase: string, durationMs: number, minEvents = 0): Promise<LoadResult> {
    return this.harness.loadgen.call<LoadResult>("closed", {
      ...this.spec,
      phase: this.phaseName(phase),
      durationMs,
      concurrency: this.settings.concurrency,
      window: this.settings.window,
      minEvents,
    } satisfies ClosedLoad);
  }

  open(phase: string, durationMs: number, rate: number): Promise<LoadResult> {
    return this.harness.loadgen.call<LoadResult>("open", {
      ...this.spec,
      phase: this.phaseName(phase),
      durationMs,
      rate,
    } satisfies OpenLoad);
  }

  /**
   * One closed-loop round, from a quiet process to a quiet process: the time runs until the last
   * delivery reached the sink and the process stopped working, so deferred work counts too.
   */
  async round(name: string): Promise<ThroughputRound> {
    const { target, settings } = this;
    await settled(target.pid, settings.drainTimeoutMs);
    const cpuBefore = readCpuSeconds(target.pid);
    const load = await this.closed(name, settings.throughputMs);
    const throughput = await this.drain(name, load);
    const quietUs = await settled(target.pid, settings.drainTimeoutMs);
    const cpuAfter = readCpuSeconds(target.pid);
    const seconds = (Math.max(throughput.lastUs, quietUs) - load.startUs) / 1e6;
    const events = Math.min(load.accepted, throughput.count / this.scenario.fanout);
    const cpuUsPerEvent =
      cpuBefore !== undefined && cpuAfter !== undefined && events > 0
        ? ((cpuAfter - cpuBefore) * 1e6) / events
        : undefined;
    return {
      eventsPerSecond: events / seconds,
      deliveriesPerSecond: throughput.count / seconds,
      events,
      ...(cpuUsPerEvent !== undefined ? { cpuUsPerEvent } : {}),
    };
  }
}

/** Measures one scenario on its started target, then stops it unless told to keep it. */
export async function runScenario(
  load: ScenarioLoad,
  options: {
    /** The highest open-loop rate for latency, given what this scenario sustains (see affordableRate). */
    readonly rateCeiling: (sustainedEventsPerSecond: number) => number;
    /** A relay round to run before each throughput round (pairWithRelay). */
    readonly relayRound?: (name: string) => Promise<ThroughputRound>;
    readonly keepRunning?: boolean;
  },
  settings: BenchSettings,
): Promise<ScenarioResult> {
  const { scenario, target, problems } = load;
  const base = { id: scenario.id, title: scenario.title };
  const loadStart = loadavg()[0]!;
  try {
    const unreachable = await probe(scenario, load.harness, target);
    if (unreachable) return { ...base, failed: unreachable, problems };
    const startupMs = Date.now() - target.startedAt;
    await sleep(settings.idleSettleMs);
    const idleRss = readMemory(target.pid)?.rss;

    // Steady state: the warm-up reaches every trigger at least once (first-event work such as
    // parsing a subscriber URL is paid there, as it is long before a real broker's busy hour).
    await load.drain(
      "throughput-warmup",
      await load.closed("throughput-warmup", settings.throughputWarmMs, scenario.types.length),
    );
    let best: ThroughputRound | undefined;
    let alongside: ThroughputRound | undefined;
    for (let n = 1; n <= settings.throughputRounds; n++) {
      const name = n === 1 ? "throughput" : `throughput-${n}`;
      if (options.relayRound) {
        alongside = faster(alongside, await options.relayRound(`${scenario.id}-${name}`));
      }
      best = faster(best, await load.round(name));
    }
    if (best === undefined) throw new Error("throughputRounds must be at least 1");
    const { eventsPerSecond, cpuUsPerEvent } = best;
    const latencyRate = affordableRate(options.rateCeiling(eventsPerSecond), eventsPerSecond);

    await load.drain(
      "latency-warmup",
      await load.open("latency-warmup", settings.latencyWarmMs, latencyRate),
    );
    const openLoad = await load.open("latency", settings.latencyMs, latencyRate);
    const latency = await load.drain("latency", openLoad);
    const behindMs = (latency.lastUs - openLoad.endUs) / 1000;
    if (behindMs > 1_000) {
      problems.push(
        `latency: the last delivery came ${Math.round(behindMs)} ms after the last send (saturated at ${latencyRate}/s)`,
      );
    }
    const peakRss = readMemory(target.pid)?.peakRss;
    const checked = await target.check?.();
    if (checked !== undefined) problems.push(checked);

    return {
      ...base,
      eventsPerSecond,
      deliveriesPerSecond: best.deliveriesPerSecond,
      latencyRate,
      p50Ms: latency.p50Us / 1000,
      p99Ms: latency.p99Us / 1000,
      p999Ms: latency.p999Us / 1000,
      maxMs: latency.maxUs / 1000,
      ...(cpuUsPerEvent !== undefined ? { cpuUsPerEvent } : {}),
      ...(alongside !== undefined ? { alongside } : {}),
      ...(idleRss !== undefined ? { idleRss } : {}),
      ...(peakRss !== undefined ? { peakRss } : {}),
      startupMs,
      load: [loadStart, loadavg()[0]!],
      // A copy: the relay's own list keeps growing while later scenarios are paired with it.
      problems: [...problems],
    };
  } finally {
    if (!options.keepRunning) await target.stop();
  }
}
