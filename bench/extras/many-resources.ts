/**
 * Many resources: 1,000 Brokers × 10 Triggers in one namespace on the memory backing (and on
 * Redis, scaled down to what the shared server's maxclients leaves room for while the Redis
 * backing opens a connection per subscription): start-up to /readyz, idle RSS, and events sent
 * round-robin to every broker, with each broker's delivered events/s (min / median / max).
 * On Redis, the process's connections are counted in CLIENT LIST (reported, never judged).
 */
import { randomBytes } from "node:crypto";
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { EventailProcess } from "../../test/support/eventail-process.js";
import type { ClosedLoad, LoadResult, PhaseReport } from "../processes/protocol.js";
import { readMemory } from "../support/proc.js";
import { fmt, spread } from "./format.js";
import type { Extra, ExtraContext, ExtraRow } from "./types.js";

export const BROKERS = 1_000;
export const TRIGGERS_PER_BROKER = 10;
const TYPE = "dev.eventail.bench.order";

/** The manifests of `brokers` Brokers with `triggers` Triggers each; trigger j of broker b delivers to /t/b{b}.{j}. */
export function manyTopology(
  namespace: string,
  brokers: number,
  triggers: number,
  subscriber: string,
  backing?: { readonly kind: string; readonly url: string },
): string {
  const documents: unknown[] = [];
  if (backing !== undefined) {
    documents.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "bench-backing", namespace },
      data: { backing: backing.kind, url: backing.url },
    });
  }
  for (let b = 0; b < brokers; b++) {
    documents.push({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Broker",
      metadata: { name: `b${b}`, namespace },
      ...(backing !== undefined
        ? { spec: { config: { apiVersion: "v1", kind: "ConfigMap", name: "bench-backing" } } }
        : {}),
    });
    for (let j = 0; j < triggers; j++) {
      documents.push({
        apiVersion: "eventing.knative.dev/v1",
        kind: "Trigger",
        metadata: { name: `b${b}-t${j}`, namespace },
        spec: { broker: `b${b}`, subscriber: { uri: `${subscriber}/t/b${b}.${j}` } },
      });
    }
  }
  return documents.map((document) => JSON.stringify(document)).join("\n---\n");
}

/** Events/s each broker delivered, from the sink's per-path counts (paths /t/b{b}.{j}). */
export function perBroker(
  counts: Readonly<Record<string, number>>,
  brokers: number,
  triggers: number,
  seconds: number,
): number[] {
  const delivered = new Array<number>(brokers).fill(0);
  for (const [url, n] of Object.entries(counts)) {
    const match = /\/t\/b(\d+)\.\d+$/.exec(url);
    if (match) delivered[Number(match[1])]! += n;
  }
  return delivered.map((n) => n / triggers / seconds);
}

/** Local ports of `pid`'s TCP connections to `remotePort` (from /proc). */
function localPortsTo(pid: number, remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(link);
      if (match) inodes.add(match[1]!);
    } catch {
      // The descriptor closed meanwhile.
    }
  }
  const ports = new Set<number>();
  for (const table of ["tcp", "tcp6"]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const local = Number.parseInt(fields[1]!.split(":")[1]!, 16);
      const remote = Number.parseInt(fields[2]!.split(":")[1]!, 16);
      if (remote === remotePort && inodes.has(fields[9]!)) ports.add(local);
    }
  }
  return ports;
}

/** The process's connections as Redis lists them in CLIENT LIST. */
async function redisConnectionsOf(url: string, pid: number): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const ports = localPortsTo(pid, Number(new URL(url).port || 6379));
    const list = String(await redis.client("LIST"));
    return list.split("\n").filter((line) => {
      const port = /\baddr=[^ ]*:(\d+)\b/.exec(line)?.[1];
      return port !== undefined && ports.has(Number(port));
    }).length;
  } finally {
    redis.disconnect();
  }
}

/** Brokers Redis has room for: half the free client slots, 10 per broker, at most `wanted`. */
async function redisRoom(url: string, wanted: number): Promise<number> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const max = Number(((await redis.config("GET", "maxclients")) as string[])[1]);
    const connected = Number(/connected_clients:(\d+)/.exec(await redis.info("clients"))?.[1]);
    return Math.max(0, Math.min(wanted, Math.floor((max - connected) / 2 / TRIGGERS_PER_BROKER)));
  } finally {
    redis.disconnect();
  }
}

async function measure(
  context: ExtraContext,
  label: string,
  brokers: number,
  problems: string[],
  redisUrl?: string,
): Promise<ExtraRow[]> {
  const { harness, engines, settings } = context;
  const namespace = `bench-many-${randomBytes(4).toString("hex")}`;
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-bench-many-"));
  writeFileSync(
    path.join(dir, "topology.yaml"),
    manyTopology(
      namespace,
      brokers,
      TRIGGERS_PER_BROKER,
      harness.sink.ready.url,
      redisUrl === undefined ? undefined : { kind: "redis", url: redisUrl },
    ),
  );
  const began = performance.now();
  let eventail: EventailProcess | undefined;
  try {
    eventail = await EventailProcess.start(`eventail-many-${label}`, {
      manifests: [dir],
      noWatch: true,
      readyTimeoutMs: 300_000,
      ...(settings.cli ? { cli: settings.cli } : {}),
    });
    const startupMs = performance.now() - began;
    const base = `${eventail.url}/${namespace}`;
    const probePhase = `many-${label}-probe`;
    const answer = await harness.loadgen.call<string>("one", {
      url: `${base}/b0`,
      phase: probePhase,
      durationMs: 0,
      types: [TYPE],
      fanout: TRIGGERS_PER_BROKER,
    });
    const probed = await harness.sink.call<PhaseReport>("waitFor", {
      phase: probePhase,
      count: TRIGGERS_PER_BROKER,
      timeoutMs: 30_000,
    });
    if (probed.count < TRIGGERS_PER_BROKER) {
      throw new Error(
        `${label}: the probe event (answer ${answer}) reached ${probed.count} triggers`,
      );
    }
    await sleep(settings.idleSettleMs);
    const idleRss = readMemory(eventail.pid)?.rss;
    const connections =
      redisUrl === undefined ? undefined : await redisConnectionsOf(redisUrl, eventail.pid);

    const phase = `many-${label}-load`;
    const paths = Array.from({ length: brokers }, (_, b) => `/${namespace}/b${b}`);
    const load = await harness.loadgen.call<LoadResult>("closed", {
      url: `${base}/b0`,
      paths,
      phase,
      types: [TYPE],
      fanout: TRIGGERS_PER_BROKER,
      durationMs: settings.throughputMs,
      concurrency: settings.concurrency,
      window: settings.window,
      minEvents: brokers,
    } satisfies ClosedLoad);
    const seconds = (load.endUs - load.startUs) / 1e6;
    const counts = await harness.sink.call<Record<string, number>>("pathCounts", { phase });
    const expected = load.accepted * TRIGGERS_PER_BROKER;
    const drained = await harness.sink.call<PhaseReport>("waitFor", {
      phase,
      count: expected,
      timeoutMs: settings.drainTimeoutMs,
    });
    await harness.sink.call("forget", { phase });
    await harness.sink.call("forget", { phase: probePhase });
    const refused = Object.entries(load.refused);
    if (refused.length > 0) {
      problems.push(`${label}: refused ${refused.map(([code, n]) => `${n}×${code}`).join(", ")}`);
    }
    if (drained.count < expected) {
      problems.push(`${label}: ${expected - drained.count} of ${expected} deliveries missing`);
    }
    const perBrokerRates = spread(perBroker(counts, brokers, TRIGGERS_PER_BROKER, seconds))!;
    if (perBrokerRates.median * seconds < 5) {
      problems.push(
        `${label}: under 5 events per broker reached the sink during the load; the spread is too coarse to judge (a longer run tells)`,
      );
    }
    const total = drained.count / TRIGGERS_PER_BROKER / seconds;
    const what = `${label}, ${fmt(brokers)} brokers × ${TRIGGERS_PER_BROKER} triggers`;
    return [
      { what: `${what}: start-up to /readyz`, figure: `${fmt(startupMs)} ms` },
      {
        what: `${what}: idle RSS`,
        figure: idleRss === undefined ? "–" : `${fmt(idleRss / 1024 / 1024)} MB`,
      },
      {
        what: `${what}: events/s per broker during the load, min / median / max`,
        figure: `${fmt(perBrokerRates.min, 1)} / ${fmt(perBrokerRates.median, 1)} / ${fmt(perBrokerRates.max, 1)}`,
        baseline: `${fmt(total)} events/s in all`,
      },
      ...(connections === undefined
        ? []
        : [
            {
              what: `${what}: Redis connections (CLIENT LIST)`,
              figure: fmt(connections),
              baseline: `${fmt(connections / (brokers * TRIGGERS_PER_BROKER), 2)} per trigger`,
            },
          ]),
    ];
  } finally {
    await eventail?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (redisUrl !== undefined) await engines.forget("redis", redisUrl, namespace);
  }
}

export const manyResourcesExtra: Extra = {
  id: "many-resources",
  title: "many resources",
  async run(context, problems) {
    const rows = await measure(context, "memory", BROKERS, problems);
    const located = await context.engines.locate("redis");
    if ("skip" in located) {
      problems.push(`redis: skipped, ${located.skip}`);
    } else {
      const wanted = context.quick ? 50 : BROKERS;
      const brokers = await redisRoom(located.url, wanted);
      if (brokers < wanted) {
        problems.push(
          `redis: ${fmt(brokers)} brokers instead of ${fmt(wanted)}, to leave the shared server's client slots to others`,
        );
      }
      if (brokers > 0)
        rows.push(...(await measure(context, "redis", brokers, problems, located.url)));
    }
    return { id: this.id, title: this.title, rows };
  },
};
