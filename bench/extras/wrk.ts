/**
 * Eventail (memory, 1 trigger) and the relay, each loaded by wrk (C, 64 connections) instead of
 * the Node load generator, so the producer is not what limits either. wrk's Lua script posts a
 * binary-mode CloudEvent and counts 202 answers; the figure is accepted events ÷ the time until
 * the last one reached the sink (the drain counts: a broker that accepts faster than it delivers
 * is not credited for its backlog).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { PhaseReport } from "../processes/protocol.js";
import { type RunningTarget, startTarget } from "../run-scenario.js";
import type { Scenario } from "../scenarios.js";
import { nowUs, PHASE_HEADER } from "../support/clock.js";
import { readCpuSeconds, settled } from "../support/proc.js";
import { fmt, times } from "./format.js";
import { type Extra, type ExtraContext, SkipExtra } from "./types.js";

export const WRK = "/usr/bin/wrk";

/** wrk's script: unique ce-id per request, a count of 202s summed over threads in done(). */
export function wrkScript(phase: string): string {
  const body = JSON.stringify({ order: "4f1c2a9e", customer: "c-102938", currency: "EUR" });
  return `
-- Globals, not locals: done() reads each thread's counters with thread:get.
counter = 0
accepted = 0
other = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  prefix = "${phase}-" .. tostring(tid) .. "-"
end
function request()
  counter = counter + 1
  local headers = {}
  headers["ce-specversion"] = "1.0"
  headers["ce-id"] = prefix .. counter
  headers["ce-source"] = "/bench/wrk"
  headers["ce-type"] = "dev.eventail.bench.order"
  headers["content-type"] = "application/json"
  headers["${PHASE_HEADER}"] = "${phase}"
  return wrk.format("POST", nil, headers, ${JSON.stringify(body)})
end
function response(status, headers, body)
  if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local a = 0
  local o = 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    o = o + t:get("other")
  end
  io.write(string.format("EVENTAIL_WRK accepted=%d other=%d errors=%d\\n", a, o,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
`;
}

export interface WrkCounts {
  readonly accepted: number;
  readonly other: number;
  readonly errors: number;
}

/** The script's summary line in wrk's output. */
export function parseWrkOutput(output: string): WrkCounts | undefined {
  const match = /EVENTAIL_WRK accepted=(\d+) other=(\d+) errors=(\d+)/.exec(output);
  if (!match) return undefined;
  return { accepted: Number(match[1]), other: Number(match[2]), errors: Number(match[3]) };
}

function runWrk(url: string, script: string, seconds: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      WRK,
      ["-t2", "-c64", `-d${seconds}s`, "--timeout", "10s", "-s", script, url],
      { timeout: (seconds + 30) * 1000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`wrk: ${stderr.trim() || error.message}`)) : resolve(stdout),
    );
  });
}

export interface WrkRound {
  readonly eventsPerSecond: number;
  readonly cpuUsPerEvent?: number;
  readonly accepted: number;
}

/** One wrk run against `target`, then the drain of every accepted event to the sink. */
export async function wrkRound(
  context: ExtraContext,
  target: RunningTarget,
  phase: string,
  problems: string[],
): Promise<WrkRound> {
  const { harness, settings } = context;
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-wrk-"));
  try {
    const script = path.join(dir, "post.lua");
    writeFileSync(script, wrkScript(phase));
    await settled(target.pid, settings.drainTimeoutMs);
    const cpuBefore = readCpuSeconds(target.pid);
    const startUs = nowUs();
    const output = await runWrk(target.ingressUrl, script, context.quick ? 2 : 10);
    const counts = parseWrkOutput(output);
    if (counts === undefined) throw new Error(`wrk printed no summary: ${output.slice(0, 300)}`);
    const report = await harness.sink.call<PhaseReport>("waitFor", {
      phase,
      count: counts.accepted,
      timeoutMs: settings.drainTimeoutMs,
    });
    const quietUs = await settled(target.pid, settings.drainTimeoutMs);
    const cpuAfter = readCpuSeconds(target.pid);
    await harness.sink.call("forget", { phase });
    if (counts.other > 0 || counts.errors > 0) {
      problems.push(`${phase}: ${counts.other} answers other than 202, ${counts.errors} errors`);
    }
    if (report.count < counts.accepted) {
      problems.push(
        `${phase}: ${counts.accepted - report.count} of ${counts.accepted} accepted events never reached the sink`,
      );
    }
    const delivered = Math.min(report.count, counts.accepted);
    const seconds = (Math.max(report.lastUs, quietUs) - startUs) / 1e6;
    return {
      eventsPerSecond: delivered / seconds,
      accepted: counts.accepted,
      ...(cpuBefore !== undefined && cpuAfter !== undefined && delivered > 0
        ? { cpuUsPerEvent: ((cpuAfter - cpuBefore) * 1e6) / delivered }
        : {}),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ONE_TYPE = ["dev.eventail.bench.order"];

export const RELAY_SCENARIO: Scenario = {
  id: "extra-relay",
  title: "relay",
  target: { kind: "relay" },
  types: ONE_TYPE,
  fanout: 1,
};

export function memoryScenario(id: string, triggers: number): Scenario {
  return {
    id,
    title: `memory, ${triggers} trigger(s)`,
    target: { kind: "eventail", backing: "memory", triggers, filtered: false },
    types: ONE_TYPE,
    fanout: triggers,
  };
}

export const wrkExtra: Extra = {
  id: "wrk",
  title: "memory, 1 trigger and the relay, loaded by wrk -c64",
  async run(context, problems) {
    const { harness, engines, settings } = context;
    if (!existsSync(WRK)) throw new SkipExtra(`no ${WRK} (Debian package wrk)`);
    const started: RunningTarget[] = [];
    try {
      const rounds: Record<string, WrkRound> = {};
      for (const scenario of [RELAY_SCENARIO, memoryScenario("wrk-memory-1", 1)]) {
        const target = await startTarget(scenario, harness, engines, settings);
        if ("skip" in target) throw new Error(target.skip);
        started.push(target);
        rounds[scenario.id] = await wrkRound(context, target, `wrk-${scenario.id}`, problems);
        await target.stop();
      }
      const relay = rounds[RELAY_SCENARIO.id]!;
      const memory = rounds["wrk-memory-1"]!;
      const ratio = times(memory.eventsPerSecond, relay.eventsPerSecond);
      return {
        id: this.id,
        title: this.title,
        rows: [
          {
            what: "events/s (202s, drained to the sink)",
            figure: `${fmt(memory.eventsPerSecond)} events/s`,
            baseline: `${fmt(relay.eventsPerSecond)} events/s`,
            ...(ratio ? { ratio } : {}),
          },
          {
            what: "CPU µs/event",
            figure: memory.cpuUsPerEvent === undefined ? "–" : fmt(memory.cpuUsPerEvent),
            baseline: relay.cpuUsPerEvent === undefined ? "–" : fmt(relay.cpuUsPerEvent),
            ...(times(memory.cpuUsPerEvent, relay.cpuUsPerEvent)
              ? { ratio: times(memory.cpuUsPerEvent, relay.cpuUsPerEvent)! }
              : {}),
          },
        ],
      };
    } finally {
      await Promise.all(started.map((t) => t.stop()));
    }
  },
};
