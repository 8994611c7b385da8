/**
 * Start-up of the built command line on the quickstart (README: `eventail run -f
 * examples/quickstart`): from spawning the process to /readyz answering 200, polled every 10 ms.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { EVENTAIL_CLI } from "../../test/support/eventail-process.js";
import { readCpuSeconds } from "../support/proc.js";
import { fmt, median } from "./format.js";
import type { Extra } from "./types.js";

const QUICKSTART = fileURLToPath(new URL("../../../examples/quickstart", import.meta.url));
const PACKAGE_JSON = fileURLToPath(new URL("../../../package.json", import.meta.url));
export const STARTUP_GOAL_MS = 500;

/**
 * Milliseconds from spawn to the first 200 from /readyz, and the CPU time the process used until
 * then (the figure other work on a shared machine bends least).
 */
export async function timeToReady(
  cli: string,
  manifests: string,
  timeoutMs = 30_000,
): Promise<{ readonly wallMs: number; readonly cpuMs: number | undefined }> {
  const began = performance.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [cli, "run", "--no-watch", "--host", "127.0.0.1", "--port", "0", "-f", manifests],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EVENTAIL_LOG_LEVEL: "info" } },
  );
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    if (output.length < 65_536) output += chunk.toString("utf8");
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    if (output.length < 65_536) output += chunk.toString("utf8");
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    let url: string | undefined;
    while (performance.now() - began < timeoutMs) {
      if (child.exitCode !== null) throw new Error(`eventail exited: ${output.slice(-500)}`);
      url ??= /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1];
      if (url !== undefined) {
        const status = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) }).then(
          async (r) => {
            await r.arrayBuffer();
            return r.status;
          },
          () => 0,
        );
        if (status === 200) {
          const wallMs = performance.now() - began;
          const cpu = readCpuSeconds(child.pid!);
          return { wallMs, cpuMs: cpu === undefined ? undefined : cpu * 1000 };
        }
      }
      await sleep(10);
    }
    throw new Error(`eventail was not ready within ${timeoutMs} ms: ${output.slice(-500)}`);
  } finally {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether `npm start` compiles before it serves (the README's first command). */
export function npmStartCompiles(): boolean {
  const scripts = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")).scripts ?? {};
  return /\b(tsc|npm run build)\b/.test(String(scripts.start ?? ""));
}

export const startupExtra: Extra = {
  id: "startup",
  title: "start-up, quickstart (dist build)",
  async run(context, problems) {
    const repetitions = context.quick ? 3 : 7;
    const cli = context.settings.cli ?? EVENTAIL_CLI;
    const times: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      const { wallMs, cpuMs } = await timeToReady(cli, QUICKSTART);
      times.push(wallMs);
      if (cpuMs !== undefined) cpu.push(cpuMs);
    }
    const middle = median(times)!;
    const cpuMiddle = median(cpu);
    if (npmStartCompiles()) {
      problems.push(
        "npm start runs the TypeScript build before serving: a user waits for tsc on every start",
      );
    }
    return {
      id: this.id,
      title: this.title,
      rows: [
        {
          what: `spawn → /readyz 200, median of ${repetitions}`,
          figure: `${fmt(middle)} ms`,
          baseline: `min ${fmt(Math.min(...times))}, max ${fmt(Math.max(...times))} ms`,
          goal: { text: `≤ ${STARTUP_GOAL_MS} ms`, met: middle <= STARTUP_GOAL_MS },
        },
        {
          what: "CPU time of the process until ready, median",
          figure: cpuMiddle === undefined ? "–" : `${fmt(cpuMiddle)} ms`,
        },
      ],
    };
  },
};
