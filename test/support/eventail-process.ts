import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** The built command line; `npm test` builds it before the tests run. */
export const EVENTAIL_CLI = path.resolve("dist/src/cli/main.js");

/**
 * Whether dist/ holds the command line. Outside CI its tests skip when it does not; in CI, where
 * `npm test` builds first, a missing build is an error that names it.
 */
export function eventailBuilt(): boolean {
  if (existsSync(EVENTAIL_CLI)) return true;
  if (process.env["CI"] === "true") {
    throw new Error(`${EVENTAIL_CLI} is missing: CI tests the build (npm test runs npm run build)`);
  }
  return false;
}

/** Enough of a process's log to explain a failure without holding a whole run's output. */
const OUTPUT_TAIL_CHARS = 64 * 1024;

const running = new Set<EventailProcess>();

export interface EventailProcessOptions {
  /** Manifest files or folders, each passed as `-f`. */
  readonly manifests: readonly string[];
  /** Added to (and overriding) this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** How long to wait for /readyz to answer 200 (default 30 s). */
  readonly readyTimeoutMs?: number;
  /** Resolve once the port is known, without waiting for /readyz (default false). */
  readonly skipReady?: boolean;
  /** Node flags before the script, e.g. --cpu-prof (the bench's profiles). */
  readonly nodeFlags?: readonly string[];
  /** Serve the files as read at start, without watching them (`--no-watch`). */
  readonly noWatch?: boolean;
  /** Another build's command line (the bench's A/B of two commits); default EVENTAIL_CLI. */
  readonly cli?: string;
  /** More `eventail run` arguments, e.g. `--service NS/NAME=URL`. */
  readonly args?: readonly string[];
}

/**
 * One `eventail run` process on 127.0.0.1 port 0. Its URL is read from its "Server listening at"
 * log line, so no port is picked ahead of time and raced for. Every process started here is
 * tracked until it exits, so `stopEventailProcesses()` in an afterEach leaves nothing behind.
 */
export class EventailProcess {
  url = "";
  private tail = "";
  /** The start of the output, kept apart from the tail so the listening line cannot scroll away. */
  private head = "";
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const collect = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      this.tail = (this.tail + text).slice(-OUTPUT_TAIL_CHARS);
      if (this.head.length < OUTPUT_TAIL_CHARS) this.head += text;
    };
    // The pipes must be drained: a full stdout pipe would stall the process's logger.
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  static async start(name: string, options: EventailProcessOptions): Promise<EventailProcess> {
    const args = [
      ...(options.nodeFlags ?? []),
      options.cli ?? EVENTAIL_CLI,
      "run",
      ...(options.noWatch ? ["--no-watch"] : []),
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ];
    for (const manifest of options.manifests) args.push("-f", manifest);
    args.push(...(options.args ?? []));
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, EVENTAIL_LOG_LEVEL: "info", ...options.env },
    });
    const started = new EventailProcess(name, child);
    try {
      await started.waitForUrl(options.readyTimeoutMs ?? 30_000);
      if (!options.skipReady) await started.waitReady(options.readyTimeoutMs ?? 30_000);
    } catch (error) {
      await started.kill("SIGKILL");
      throw error;
    }
    return started;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last 64 KiB of stdout and stderr. */
  output(): string {
    return this.tail;
  }

  private async waitForUrl(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // Fastify logs the address as soon as it listens, before the first reconcile finishes.
      const listening = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(this.head);
      if (listening) {
        this.url = listening[1]!;
        return;
      }
      if (!this.alive) {
        throw new Error(`${this.name} exited with ${this.child.exitCode}:\n${this.tail}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} never said where it serves:\n${this.tail}`);
      }
      await sleep(50);
    }
  }

  /** GET /readyz: the status code, or 0 when nothing answers within `timeoutMs`. */
  async readiness(timeoutMs = 5_000): Promise<number> {
    try {
      const response = await fetch(`${this.url}/readyz`, {
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer();
      return response.status;
    } catch {
      return 0;
    }
  }

  /** Polls /readyz until it answers 200. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.readiness()) !== 200) {
      if (!this.alive) {
        throw new Error(`${this.name} exited with ${this.child.exitCode}:\n${this.tail}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.name} never became ready:\n${this.tail}`);
      }
      await sleep(100);
    }
  }

  /** Sums one counter of /metrics over the series whose labels include `labels`. */
  async counter(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const response = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return sumSeries(await response.text(), name, labels);
  }

  /** Sends `signal` and waits for the process to exit. */
  async kill(signal: NodeJS.Signals): Promise<void> {
    if (this.alive) this.child.kill(signal);
    await this.exited;
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Stops every process `EventailProcess.start` launched that is still running. */
export async function stopEventailProcesses(): Promise<void> {
  await Promise.all([...running].map((process_) => process_.stop()));
}

/** Prometheus text format: the sum of `name`'s samples whose labels include all of `labels`. */
export function sumSeries(
  text: string,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const close = line.lastIndexOf("}");
    const labelText = close > 0 ? line.slice(name.length + 1, close) : "";
    const value = Number(
      line
        .slice(close > 0 ? close + 1 : name.length)
        .trim()
        .split(" ")[0],
    );
    const present = new Map<string, string>();
    for (const match of labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      present.set(match[1]!, match[2]!);
    }
    if (Object.entries(labels).every(([key, wanted]) => present.get(key) === wanted)) {
      total += value;
    }
  }
  return total;
}
