/**
 * The subscriber every scenario delivers to: a bare node:http server answering 202. It records,
 * per phase, how many deliveries arrived, on which path (one path per trigger), when the last one
 * arrived, and the end-to-end latency (load generator send → receipt here) in an HDR histogram.
 * It reports its running count to the load generator over a TCP line feed, which is how the
 * closed-loop load keeps a bounded number of events in flight end to end.
 */
import http from "node:http";
import net from "node:net";
import hdr from "hdr-histogram-js";
import { nowUs, PHASE_HEADER, SENT_HEADER } from "../support/clock.js";
import { serveCalls } from "../support/rpc.js";
import type { PhaseReport, SinkReady } from "./protocol.js";

class Phase {
  count = 0;
  lastUs = 0;
  readonly latency = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  readonly paths = new Map<string, number>();
  waiters: Array<{ count: number; resolve: () => void }> = [];

  record(path: string, latencyUs: number, at: number): void {
    this.count++;
    this.lastUs = at;
    this.latency.recordValue(Math.max(1, latencyUs));
    this.paths.set(path, (this.paths.get(path) ?? 0) + 1);
    if (this.waiters.length > 0) {
      const due = this.waiters.filter((w) => w.count <= this.count);
      if (due.length > 0) {
        this.waiters = this.waiters.filter((w) => w.count > this.count);
        for (const waiter of due) waiter.resolve();
      }
    }
  }

  report(name: string): PhaseReport {
    let minPerPath = Number.POSITIVE_INFINITY;
    let maxPerPath = 0;
    for (const n of this.paths.values()) {
      minPerPath = Math.min(minPerPath, n);
      maxPerPath = Math.max(maxPerPath, n);
    }
    const h = this.latency;
    return {
      phase: name,
      count: this.count,
      lastUs: this.lastUs,
      paths: this.paths.size,
      minPerPath: this.paths.size === 0 ? 0 : minPerPath,
      maxPerPath,
      p50Us: this.count === 0 ? 0 : h.getValueAtPercentile(50),
      p99Us: this.count === 0 ? 0 : h.getValueAtPercentile(99),
      p999Us: this.count === 0 ? 0 : h.getValueAtPercentile(99.9),
      maxUs: this.count === 0 ? 0 : h.maxValue,
    };
  }
}

const phases = new Map<string, Phase>();
function phase(name: string): Phase {
  let found = phases.get(name);
  if (found === undefined) {
    found = new Phase();
    phases.set(name, found);
  }
  return found;
}

// Counts go to the load generator at most once per event-loop turn, whatever arrived in it.
let feedback: net.Socket | undefined;
const dirty = new Set<string>();
let flushScheduled = false;
function flush(): void {
  flushScheduled = false;
  if (feedback === undefined) {
    dirty.clear();
    return;
  }
  let lines = "";
  for (const name of dirty) {
    const count = phases.get(name)?.count;
    // A phase forgotten in this turn (its drain was cut short) has nothing left to report.
    if (count !== undefined) lines += `${name} ${count}\n`;
  }
  dirty.clear();
  if (lines !== "") feedback.write(lines);
}

const server = http.createServer((request, response) => {
  const at = nowUs();
  const name = request.headers[PHASE_HEADER];
  const sent = Number(request.headers[SENT_HEADER]);
  if (typeof name === "string") {
    phase(name).record(request.url ?? "/", Number.isFinite(sent) ? at - sent : 0, at);
    dirty.add(name);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  }
  request.resume();
  request.on("end", () => {
    response.writeHead(202, { "content-length": "0" });
    response.end();
  });
});
server.keepAliveTimeout = 60_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  serveCalls({ url: `http://127.0.0.1:${port}` } satisfies SinkReady, {
    /** Sends running counts to the load generator's feedback port from now on. */
    connectFeedback: (args: { port: number }) =>
      new Promise<void>((resolve, reject) => {
        const socket = net.connect({ host: "127.0.0.1", port: args.port }, () => {
          socket.setNoDelay(true);
          feedback = socket;
          resolve();
        });
        socket.once("error", reject);
      }),
    /** Resolves with the phase's report once `count` deliveries arrived, or at the deadline. */
    waitFor: async (args: { phase: string; count: number; timeoutMs: number }) => {
      const target = phase(args.phase);
      if (target.count < args.count) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, args.timeoutMs);
          target.waiters.push({
            count: args.count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return target.report(args.phase);
    },
    report: (args: { phase: string }) => phase(args.phase).report(args.phase),
    /** Deliveries so far per request path (per trigger) in a phase. */
    pathCounts: (args: { phase: string }) => Object.fromEntries(phase(args.phase).paths),
    /** Drops a phase's records (its histogram is the largest thing the sink holds). */
    forget: (args: { phase: string }) => void phases.delete(args.phase),
  });
});
