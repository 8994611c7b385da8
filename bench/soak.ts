/**
 * `npm run soak -- [--minutes N] [--interval-seconds S] [--rate R] [--out FILE]` (issue 14): steady
 * open-loop load through a memory broker and a Redis broker served by one Eventail process. Each
 * broker has three triggers: a fast subscriber (the bench sink, whose deliveries give the p99),
 * a slow one (answers after 100 ms) and a failing one (always 500; two retries 50 and 100 ms
 * apart, then its dead-letter sink). Each keeps up with the default rate, so a growing backlog is
 * a fault, not the load. Every interval it prints the process's RSS and the fast path's p99; at the
 * end it fails when RSS keeps climbing or p99 drifts (soak-judge.ts), when an accepted event did
 * not reach the fast subscriber, or when ingress refused one.
 *
 * Every bounded ring is filled early, so that memory is judged with all of them full: journeys on
 * with a small `--journey-size`, a flaky trigger per broker (every fourth delivery fails, no
 * retry, no dead-letter sink) whose events go to the dead-letter store of a small
 * `--dead-letter-size`, the memory broker retained for `--retention` (its archive ring), and a
 * tail client connected throughout. Each interval reports which rings are full, observed through
 * the process's API (support/soak-rings.ts).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { EventailProcess, sumSeries } from "../test/support/eventail-process.js";
import type { LoadResult, OpenLoad, PhaseReport } from "./processes/protocol.js";
import { Harness } from "./run-scenario.js";
import { judgeSoak, leastSquaresSlope, type SoakSample } from "./soak-judge.js";
import { Engines } from "./support/engines.js";
import { readMemory } from "./support/proc.js";
import {
  archiveGone,
  connectTail,
  deadLettersPushedOut,
  journeyGone,
  type Marker,
  sendMarker,
  type TailClient,
} from "./support/soak-rings.js";

const { values: options } = parseArgs({
  options: {
    minutes: { type: "string", default: "10" },
    "interval-seconds": { type: "string", default: "60" },
    rate: { type: "string", default: "100" },
    out: { type: "string" },
    "journey-size": { type: "string", default: "20000" },
    "dead-letter-size": { type: "string", default: "2000" },
    retention: { type: "string", default: "PT2M" },
    "heap-snapshots-at": { type: "string" },
    "heap-snapshot-dir": { type: "string" },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(
      `eventail soak: --${name} must be a positive number, got ${JSON.stringify(text)}`,
    );
    process.exit(2);
  }
  return value;
}

const minutes = positive("minutes", options.minutes);
const intervalMs = positive("interval-seconds", options["interval-seconds"]) * 1000;
const rate = positive("rate", options.rate);
const journeySize = positive("journey-size", options["journey-size"]);
const deadLetterSize = positive("dead-letter-size", options["dead-letter-size"]);
const retention = options.retention;
const intervals = Math.max(1, Math.round((minutes * 60_000) / intervalMs));
/** Minutes after which the Eventail process writes a heap snapshot (SIGUSR2), e.g. "8,20". */
const snapshotMinutes = (options["heap-snapshots-at"] ?? "")
  .split(",")
  .filter((m) => m.trim() !== "")
  .map((m) => positive("heap-snapshots-at", m));
const snapshotDir = path.resolve(options["heap-snapshot-dir"] ?? ".");

/** The V8 heap of the Eventail process, MB, from its /metrics (prom-client's default series). */
interface HeapReading {
  readonly usedMb: number;
  readonly totalMb: number;
  readonly externalMb: number;
  readonly arrayBuffersMb: number;
  /** Mark-compacts since the process started. */
  readonly majorGcs: number;
}

async function readHeap(url: string): Promise<HeapReading | undefined> {
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    const mb = (name: string) => sumSeries(text, name) / 1048576;
    return {
      usedMb: mb("nodejs_heap_size_used_bytes"),
      totalMb: mb("nodejs_heap_size_total_bytes"),
      externalMb: mb("nodejs_external_memory_bytes"),
      arrayBuffersMb: mb("eventail_process_array_buffers_bytes"),
      majorGcs: sumSeries(text, "nodejs_gc_duration_seconds_count", { kind: "major" }),
    };
  } catch {
    return undefined;
  }
}

/** The slow, failing and dead-letter subscribers, in this process: they only count. */
function startSideSubscribers(): Promise<{
  url: string;
  counts: Map<string, number>;
  close(): void;
}> {
  const counts = new Map<string, number>();
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      const route = (request.url ?? "").split("/")[1] ?? "";
      counts.set(route, (counts.get(route) ?? 0) + 1);
      if (route === "slow") setTimeout(() => response.writeHead(202).end(), 100);
      else if (route === "fail") response.writeHead(500).end();
      // A share of deliveries fails for good, so the dead-letter store fills.
      else if (route === "flaky")
        response.writeHead(counts.get(route)! % 4 === 0 ? 500 : 202).end();
      else response.writeHead(202).end();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, counts, close: () => server.close() });
    });
  });
}

interface SoakBroker {
  readonly name: string;
  readonly ingressPath: string;
}

function writeManifests(
  namespace: string,
  sinkUrl: string,
  sideUrl: string,
  redisUrl: string | undefined,
): { dir: string; brokers: SoakBroker[] } {
  const documents: unknown[] = [];
  const brokers: SoakBroker[] = [{ name: "memory", ingressPath: `/${namespace}/memory` }];
  documents.push({
    apiVersion: "eventing.knative.dev/v1",
    kind: "Broker",
    metadata: {
      name: "memory",
      namespace,
      annotations: { "eventail.io/retention": retention },
    },
  });
  if (redisUrl !== undefined) {
    brokers.push({ name: "redis", ingressPath: `/${namespace}/redis` });
    documents.push(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "redis-backing", namespace },
        data: { backing: "redis", url: redisUrl },
      },
      {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name: "redis", namespace },
        spec: { config: { apiVersion: "v1", kind: "ConfigMap", name: "redis-backing" } },
      },
    );
  }
  for (const broker of brokers) {
    const trigger = (name: string, uri: string, delivery?: unknown) => ({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: `${broker.name}-${name}`, namespace },
      spec: { broker: broker.name, subscriber: { uri }, ...(delivery ? { delivery } : {}) },
    });
    documents.push(
      trigger("fast", `${sinkUrl}/t/${broker.name}`),
      trigger("slow", `${sideUrl}/slow`),
      trigger("failing", `${sideUrl}/fail`, {
        retry: 2,
        backoffPolicy: "linear",
        backoffDelay: "PT0.05S",
        deadLetterSink: { uri: `${sideUrl}/dead-letter` },
      }),
      trigger("flaky", `${sideUrl}/flaky`, { retry: 0 }),
    );
  }
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-soak-"));
  writeFileSync(
    path.join(dir, "soak.yaml"),
    documents.map((document) => JSON.stringify(document)).join("\n---\n"),
  );
  return { dir, brokers };
}

const engines = new Engines();
const harness = await Harness.start();
const side = await startSideSubscribers();
const namespace = `soak-${randomBytes(4).toString("hex")}`;
const redis = await engines.locate("redis");
if ("skip" in redis) {
  const message = `eventail soak: ${redis.skip}`;
  if (process.env["CI"] === "true") {
    console.error(`${message}; CI needs Redis`);
    process.exit(1);
  }
  console.warn(`${message}: the memory broker runs alone`);
}
const redisUrl = "url" in redis ? redis.url : undefined;
const written = writeManifests(namespace, harness.sink.ready.url, side.url, redisUrl);
const failures: string[] = [];
let eventail: EventailProcess | undefined;
let tail: TailClient | undefined;
type Ring = "journeys" | "dead letters" | "archive";
try {
  eventail = await EventailProcess.start("eventail", {
    manifests: [written.dir],
    noWatch: true,
    readyTimeoutMs: 120_000,
    args: ["--journey-size", String(journeySize), "--dead-letter-size", String(deadLetterSize)],
    // Snapshots on SIGUSR2, written where asked (Node names them Heap.<date>.<pid>...).
    ...(snapshotMinutes.length > 0
      ? { nodeFlags: ["--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshotDir}`] }
      : {}),
  });
  const target = eventail;
  const spec = (broker: SoakBroker, phase: string) => ({
    url: `${target.url}${broker.ingressPath}`,
    phase,
    types: ["dev.eventail.soak"],
    fanout: 1,
  });
  // Durable consumers take a moment to exist: one event through each broker first.
  for (const broker of written.brokers) {
    const phase = `probe:${broker.name}`;
    const deadline = Date.now() + 60_000;
    let report: PhaseReport | undefined;
    while (Date.now() < deadline && (report?.count ?? 0) < 1) {
      await harness.loadgen.call("one", { ...spec(broker, phase), durationMs: 0 });
      report = await harness.sink.call<PhaseReport>("waitFor", {
        phase,
        count: 1,
        timeoutMs: 1_000,
      });
    }
    if ((report?.count ?? 0) < 1)
      throw new Error(`no probe event reached the ${broker.name} broker's subscriber`);
  }

  tail = await connectTail(target.url, namespace);
  // The marker is the oldest event of the memory broker's journey and archive rings.
  const marker: Marker = { id: `soak-marker-${randomBytes(4).toString("hex")}`, source: "/soak" };
  const loadStartMs = Date.now() - 1_000;
  // What the side subscribers had counted before the marker: the backlog columns start here
  // (off by the few probe events whose slow or dead-letter delivery lands after it).
  const countedBefore = new Map(side.counts);
  await sendMarker(`${target.url}/${namespace}/memory`, marker);
  const full: Record<Ring, number | undefined> = {
    journeys: undefined,
    "dead letters": undefined,
    archive: undefined,
  };
  const observe = async (ring: Ring, minute: number, check: () => Promise<boolean>) => {
    if (full[ring] !== undefined) return "full";
    try {
      if (!(await check())) return "filling";
    } catch (error) {
      return `? (${(error as Error).message.slice(0, 60)})`;
    }
    full[ring] = minute;
    return "full";
  };

  console.log(
    `eventail soak: journey ring ${journeySize}, dead-letter ring ${deadLetterSize}, memory archive retention ${retention}, tail connected`,
  );
  console.log(
    `eventail soak: ${written.brokers.map((b) => b.name).join(" + ")} brokers, ${rate} events/s each, ` +
      `${intervals} intervals of ${intervalMs / 1000} s`,
  );
  const header =
    `| minute | RSS MB | heap used MB | heap total MB | external MB | array buffers MB | major GCs | ${written.brokers.map((b) => `${b.name} p99 ms`).join(" | ")} | ` +
    "slow deliveries | failing attempts | dead letters | flaky attempts | tail events | " +
    "behind: slow / failing | " +
    "journey ring | dead-letter ring | archive ring |\n" +
    `|---:|---:|---:|---:|---:|---:|---:|${written.brokers.map(() => "---:").join("|")}|---:|---:|---:|---:|---:|---:|---|---|---|`;
  console.log(header);
  const samples: SoakSample[] = [];
  const heapUsed: Array<readonly [number, number]> = [];
  // Accepted by every broker since the probes (the marker is the first).
  let acceptedTotal = 1;
  let majorGcsBefore = 0;
  const rows: string[] = [];
  for (let i = 1; i <= intervals; i++) {
    const loads = await Promise.all(
      written.brokers.map((broker) =>
        harness.loadgen.call<LoadResult>("open", {
          ...spec(broker, `soak:${broker.name}:${i}`),
          durationMs: intervalMs,
          rate,
        } satisfies OpenLoad),
      ),
    );
    const reports = await Promise.all(
      written.brokers.map((broker, b) =>
        harness.sink.call<PhaseReport>("waitFor", {
          phase: `soak:${broker.name}:${i}`,
          count: loads[b]!.accepted,
          timeoutMs: 30_000,
        }),
      ),
    );
    for (const load of loads) acceptedTotal += load.accepted;
    const memory = readMemory(target.pid);
    const rssMb = (memory?.rss ?? 0) / 1048576;
    const heap = await readHeap(target.url);
    const p99s = reports.map((r) => r.p99Us / 1000);
    const p99Ms = Math.max(...p99s);
    samples.push({ minute: (i * intervalMs) / 60_000, rssMb, p99Ms });
    written.brokers.forEach((broker, b) => {
      const load = loads[b]!;
      const refused = Object.entries(load.refused);
      if (refused.length > 0) {
        failures.push(
          `${broker.name}, interval ${i}: refused ${refused.map(([code, n]) => `${n}x${code}`).join(", ")}`,
        );
      }
      if (reports[b]!.count < load.accepted) {
        failures.push(
          `${broker.name}, interval ${i}: ${load.accepted - reports[b]!.count} of ${load.accepted} accepted events did not reach the fast subscriber within 30 s`,
        );
      }
    });
    for (const broker of written.brokers) {
      await harness.sink.call("forget", { phase: `soak:${broker.name}:${i}` });
    }
    const minute = samples.at(-1)!.minute;
    if (heap !== undefined) heapUsed.push([minute, heap.usedMb]);
    const rings = [
      await observe("journeys", minute, () => journeyGone(target.url, namespace, marker)),
      await observe("dead letters", minute, async () => {
        return (await deadLettersPushedOut(target.url, namespace)) > 0;
      }),
      await observe("archive", minute, () =>
        archiveGone(target.url, namespace, "memory", "memory-slow", loadStartMs, marker),
      ),
    ];
    if (!tail.connected) failures.push(`interval ${i}: the tail client was disconnected`);
    // Events the slow and failing triggers have yet to finish: a backlog that grows is memory
    // that grows (held events), the load outrunning the process rather than a leak.
    const behind = (route: string) =>
      acceptedTotal - (side.counts.get(route) ?? 0) + (countedBefore.get(route) ?? 0);
    // Heap used between mark-compacts is live data plus garbage not yet collected: read it
    // beside how many mark-compacts the interval had.
    const heapCells =
      heap === undefined
        ? "? | ? | ? | ? | ?"
        : `${[heap.usedMb, heap.totalMb, heap.externalMb, heap.arrayBuffersMb]
            .map((mb) => mb.toFixed(1))
            .join(" | ")} | ${heap.majorGcs - majorGcsBefore}`;
    if (heap !== undefined) majorGcsBefore = heap.majorGcs;
    const row =
      `| ${minute.toFixed(1)} | ${rssMb.toFixed(1)} | ${heapCells} | ` +
      `${p99s.map((p) => p.toFixed(2)).join(" | ")} | ${side.counts.get("slow") ?? 0} | ` +
      `${side.counts.get("fail") ?? 0} | ${side.counts.get("dead-letter") ?? 0} | ` +
      `${side.counts.get("flaky") ?? 0} | ${tail.events} (${tail.dropped} dropped) | ` +
      `${behind("slow")} / ${behind("dead-letter")} | ` +
      `${rings.join(" | ")} |`;
    rows.push(row);
    console.log(row);
    if (snapshotMinutes.some((m) => Math.abs(m - minute) < 1e-6)) {
      // The process stops to write it (seconds per 100 MB of heap); the next interval starts after.
      process.kill(target.pid, "SIGUSR2");
      const asked = Date.now();
      // The snapshot is written on the main thread: /healthz answers again once it is done.
      await sleep(1_000);
      await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(600_000) });
      console.log(
        `eventail soak: heap snapshot at minute ${minute} in ${snapshotDir} (${((Date.now() - asked) / 1000).toFixed(0)} s)`,
      );
    }
  }
  const verdict = judgeSoak(samples);
  failures.push(...verdict.failures);
  const heapSlope = leastSquaresSlope(heapUsed.slice(Math.floor(heapUsed.length / 2)));
  const summary =
    `RSS slope over the last half: ${verdict.slopeMbPerMinute?.toFixed(2) ?? "n/a (too short to judge)"} MB/min ` +
    `(heap used ${heapSlope?.toFixed(2) ?? "n/a"} MB/min); ` +
    `p99 median first half ${verdict.earlyP99Ms?.toFixed(2) ?? "n/a"} ms, last half ${verdict.lateP99Ms?.toFixed(2) ?? "n/a"} ms`;
  const fullSince = (Object.entries(full) as Array<[Ring, number | undefined]>)
    .map(([ring, at]) =>
      at === undefined ? `${ring} ring never full` : `${ring} ring full by minute ${at.toFixed(1)}`,
    )
    .join("; ");
  const lastFull = Object.values(full).every((at) => at !== undefined)
    ? Math.max(...Object.values(full).map((at) => at!))
    : undefined;
  const judged = samples.at(-1)!.minute / 2;
  const ringSummary =
    `${fullSince}; ` +
    (lastFull === undefined
      ? "memory was NOT judged with every ring full"
      : lastFull <= judged
        ? `every ring full from minute ${lastFull.toFixed(1)}, before the judged last half (from minute ${judged.toFixed(1)})`
        : `every ring full only from minute ${lastFull.toFixed(1)}, after the judged last half began (minute ${judged.toFixed(1)})`);
  console.log(summary);
  console.log(ringSummary);
  if (options.out) {
    writeFileSync(options.out, `${header}\n${rows.join("\n")}\n\n${summary}\n\n${ringSummary}\n`);
  }
} catch (error) {
  failures.push(`the soak could not run: ${(error as Error).message}`);
} finally {
  tail?.close();
  await eventail?.stop();
  await harness.stop();
  side.close();
  rmSync(written.dir, { recursive: true, force: true });
  if (redisUrl !== undefined) await engines.forget("redis", redisUrl, namespace);
  await engines.stop();
}
if (failures.length > 0) {
  for (const failure of failures) console.error(`soak failed: ${failure}`);
  process.exit(1);
}
console.log("soak passed");
