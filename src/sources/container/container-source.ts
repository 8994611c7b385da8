import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } };
}

export interface Container {
  readonly name?: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly workingDir?: string;
}

export interface ContainerSourceSpec {
  readonly template: {
    readonly spec: {
      readonly containers: readonly Container[];
      readonly terminationGracePeriodSeconds?: number;
    };
  };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

export interface ContainerProcess {
  readonly command: string;
  readonly args: readonly string[];
  /** The whole environment of the child (the process's own, the container's, K_SINK, …). */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export interface RestartPolicy {
  /** Wait before the first restart; doubles each time up to maxBackoffMs. Default 1000. */
  readonly initialBackoffMs?: number;
  /** Default 60000. */
  readonly maxBackoffMs?: number;
  /** A run at least this long resets the backoff (it was not a crash loop). Default 10000. */
  readonly resetAfterMs?: number;
  /** SIGTERM, then SIGKILL after this long. Default terminationGracePeriodSeconds or 10 s. */
  readonly graceMs?: number;
}

/**
 * ContainerSource, standalone: runs `template.spec.containers[0]`'s command as a local process
 * (the image is not pulled; the command must exist here) with K_SINK and K_CE_OVERRIDES set, the
 * way Knative's SinkBinding injects them; the process posts its events to K_SINK itself. It is
 * restarted with exponential backoff whenever it exits, and stopped with the manifest.
 */
export class ContainerSource implements RunnableSource {
  private child: ChildProcess | undefined;
  private readonly stopping = new AbortController();
  private supervisor: Promise<void> | undefined;
  private started = 0;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly launch: ContainerProcess,
    private readonly logger: Logger,
    private readonly policy: RestartPolicy = {},
  ) {}

  /** How many times the process was started (1 before any restart). */
  get starts(): number {
    return this.started;
  }

  /** The running child's pid, if one is running. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async start(): Promise<void> {
    this.supervisor ??= this.supervise();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      signalGroup(child, "SIGTERM");
      const grace = this.policy.graceMs ?? 10_000;
      const timer = setTimeout(() => signalGroup(child, "SIGKILL"), grace);
      await exited;
      clearTimeout(timer);
    }
    await this.supervisor;
  }

  private async supervise(): Promise<void> {
    const initial = this.policy.initialBackoffMs ?? 1000;
    let backoff = initial;
    while (!this.stopping.signal.aborted) {
      const began = Date.now();
      const ended = await this.runOnce();
      if (this.stopping.signal.aborted) return;
      if (Date.now() - began >= (this.policy.resetAfterMs ?? 10_000)) backoff = initial;
      this.logger.warn({ ...ended, restartInMs: backoff }, "container process exited: restarting");
      await sleep(backoff, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      backoff = Math.min(backoff * 2, this.policy.maxBackoffMs ?? 60_000);
    }
  }

  /** Runs the process once; resolves with how it ended. */
  private runOnce(): Promise<{ code?: number | null; signal?: string | null; error?: string }> {
    const { command, args, env, cwd } = this.launch;
    this.started++;
    const child = spawn(command, [...args], {
      cwd,
      env,
      // Its own process group, so stopping reaches whatever it started (a shell's children).
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.logger.info({ pid: child.pid, command, args }, "container process started");
    for (const stream of ["stdout", "stderr"] as const) {
      const lines = createInterface({ input: child[stream]! });
      lines.on("line", (line) => this.logger.info({ stream, pid: child.pid }, line));
    }
    return new Promise((resolve) => {
      child.once("error", (error) => resolve({ error: error.message }));
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
