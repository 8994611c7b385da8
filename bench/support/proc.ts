/** Linux /proc readings of another process: memory and CPU time. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { nowUs } from "./clock.js";

export interface MemoryReading {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size (VmHWM), bytes. */
  readonly peakRss: number;
}

export function readMemory(pid: number): MemoryReading | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kib("VmRSS") * 1024, peakRss: kib("VmHWM") * 1024 };
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU seconds the process has used so far. */
export function readCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / clockTicks();
}

/**
 * Waits until the process stops working: a 100 ms interval in which it used at most one clock
 * tick of CPU. Returns when that quiet interval began (clock.ts microseconds), so work a process
 * defers past the last delivery (consumers skipping events their filters reject) is counted.
 */
export async function settled(pid: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const tick = 1 / clockTicks();
  let before = readCpuSeconds(pid);
  let since = nowUs();
  while (before !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const after = readCpuSeconds(pid);
    if (after === undefined || after - before <= tick + 1e-9) return since;
    before = after;
    since = nowUs();
  }
  return since;
}
