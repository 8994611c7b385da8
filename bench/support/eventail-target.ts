import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const TAIL_CHARS = 32 * 1024;

export interface EventailTargetOptions {
  readonly manifests: string;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  readonly startTimeoutMs?: number;
}

/**
 * One `eventail run` process, the thing being measured. Its URL comes from the "eventail is
 * serving" log line (port 0, nothing raced for); its output is kept short, for error messages.
 */
export class EventailTarget {
  url = "";
  private tail = "";
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    const collect = (chunk: Buffer) => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-TAIL_CHARS);
    };
    // Drained always: a full pipe would stall the process's logger and with it the benchmark.
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  static async start(options: EventailTargetOptions): Promise<EventailTarget> {
    const args = [
      ...(options.nodeFlags ?? []),
      CLI,
      "run",
      "--no-watch",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "-f",
      options.manifests,
    ];
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, EVENTAIL_LOG_LEVEL: "info" },
    });
    const target = new EventailTarget(child);
    const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
    for (;;) {
      const serving = /"url":"(http:\/\/[^"]+)"[^\n]*"msg":"eventail is serving"/.exec(target.tail);
      if (serving) {
        target.url = serving[1]!;
        return target;
      }
      if (!target.alive || Date.now() > deadline) {
        await target.stop();
        throw new Error(`eventail did not start:\n${target.output().slice(-2000)}`);
      }
      await sleep(50);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.tail;
  }

  /** SIGTERM (drains and exits, writing a CPU profile if asked), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
