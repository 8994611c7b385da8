import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../observability/logger.js";
import type { ContainerProcess } from "../../sources/container/container-source.js";

/** How a JobSink runs each job: the container as a local process, and the Job's limits. */
export interface JobLaunch extends ContainerProcess {
  /** Runs again after a failure, up to this many times (the Job's `backoffLimit`). */
  readonly backoffLimit: number;
  /** The Job's `activeDeadlineSeconds`, in ms: the job is stopped and failed past it. */
  readonly deadlineMs?: number;
  /** SIGTERM, then SIGKILL after this long (`terminationGracePeriodSeconds`, default 10 s). */
  readonly graceMs: number;
  /** First wait before a failed job runs again; doubles up to a minute. */
  readonly retryDelayMs: number;
}

export interface JobResult {
  readonly state: "succeeded" | "failed";
  readonly attempts: number;
  /** Why a failed job stopped: `BackoffLimitExceeded`, `DeadlineExceeded`, `Terminated`. */
  readonly reason?: string;
}

/** One process exit: its code, or the signal that ended it. */
export interface JobExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly attempt: number;
}

export interface JobHandle {
  /** Resolves once the first process runs; rejects when it could not start (nothing ran). */
  readonly started: Promise<void>;
  /** Resolves when the job is over (never rejects); its event file is gone by then. */
  readonly finished: Promise<JobResult>;
  /** Stops the job (SIGTERM to its process group, SIGKILL after the grace period). */
  terminate(): void;
}

const MAX_RETRY_DELAY_MS = 60_000;

/**
 * Runs one job: writes the event (structured JSON) to a file of its own, named by K_EVENT_PATH,
 * and starts the process with the same JSON on stdin; runs it again after a failure as the Job's
 * backoffLimit allows; removes the file when the job is over. `onExit` hears of every exit.
 */
export function startJob(
  job: string,
  eventJson: string,
  launch: JobLaunch,
  logger: Logger,
  onExit: (exit: JobExit) => void,
): JobHandle {
  const stop = new AbortController();
  let stopReason = "Terminated";
  let child: ChildProcess | undefined;
  let markStarted: (error?: Error) => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    markStarted = (error) => (error ? reject(error) : resolve());
  });
  // A caller that never awaits `started` must not see an unhandled rejection.
  started.catch(() => undefined);

  const terminate = (reason: string) => {
    if (stop.signal.aborted) return;
    stopReason = reason;
    stop.abort();
    if (child && child.exitCode === null && child.signalCode === null) {
      const running = child;
      signalGroup(running, "SIGTERM");
      const kill = setTimeout(() => signalGroup(running, "SIGKILL"), launch.graceMs);
      kill.unref();
      running.once("exit", () => clearTimeout(kill));
    }
  };

  const finished = (async (): Promise<JobResult> => {
    let dir: string | undefined;
    const deadline =
      launch.deadlineMs === undefined
        ? undefined
        : setTimeout(() => terminate("DeadlineExceeded"), launch.deadlineMs);
    deadline?.unref();
    try {
      dir = await mkdtemp(path.join(tmpdir(), "eventail-job-"));
      const file = path.join(dir, "event");
      await writeFile(file, eventJson, { mode: 0o600 });
      let delay = launch.retryDelayMs;
      for (let attempt = 1; ; attempt++) {
        if (stop.signal.aborted) {
          if (attempt === 1) throw new Error("the sink closed before the job started");
          return { state: "failed", attempts: attempt - 1, reason: stopReason };
        }
        const spawned = spawnOnce(job, file, eventJson, launch, logger);
        child = spawned.child;
        const ran = await spawned.running;
        if (ran !== undefined) {
          if (attempt === 1) throw ran;
          logger.warn({ job, attempt, err: ran }, "job could not start again");
          return { state: "failed", attempts: attempt, reason: "StartFailed" };
        }
        if (attempt === 1) markStarted();
        const exit = await spawned.exited;
        onExit({ ...exit, attempt });
        if (exit.code === 0) return { state: "succeeded", attempts: attempt };
        if (stop.signal.aborted) return { state: "failed", attempts: attempt, reason: stopReason };
        if (attempt > launch.backoffLimit) {
          return { state: "failed", attempts: attempt, reason: "BackoffLimitExceeded" };
        }
        await sleep(delay, undefined, { signal: stop.signal }).catch(() => undefined);
        if (stop.signal.aborted) return { state: "failed", attempts: attempt, reason: stopReason };
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
    } catch (error) {
      markStarted(error instanceof Error ? error : new Error(String(error)));
      return { state: "failed", attempts: 0, reason: "StartFailed" };
    } finally {
      clearTimeout(deadline);
      if (dir !== undefined) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    }
  })();

  return { started, finished, terminate: () => terminate("Terminated") };
}

/** Starts the process once: `running` resolves undefined once it runs, or the spawn error. */
function spawnOnce(
  job: string,
  file: string,
  eventJson: string,
  launch: JobLaunch,
  logger: Logger,
): {
  child: ChildProcess;
  running: Promise<Error | undefined>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const child = spawn(launch.command, [...launch.args], {
    cwd: launch.cwd,
    env: { ...launch.env, K_EVENT_PATH: file },
    // Its own process group, so stopping reaches whatever it started (a shell's children).
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const running = new Promise<Error | undefined>((resolve) => {
    child.once("error", resolve);
    child.once("spawn", () => resolve(undefined));
  });
  // A job that never reads stdin closes it early: the write fails with EPIPE, which is its choice.
  child.stdin!.on("error", () => undefined);
  child.stdin!.end(eventJson);
  for (const stream of ["stdout", "stderr"] as const) {
    const lines = createInterface({ input: child[stream]! });
    lines.on("line", (line) => logger.info({ job, stream, pid: child.pid }, line));
  }
  return { child, running, exited };
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}
