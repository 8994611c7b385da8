import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { waitUntilStopped } from "./process-state.js";
import { freePort, portOpen } from "./services.js";

/**
 * A private nats-server with JetStream for tests that hang, kill or restart their engine
 * without disturbing the shared one. It keeps its port and store directory across restarts,
 * so streams and consumers survive like they would on a real server.
 */
export interface NatsEngine {
  readonly url: string;
  /** SIGSTOP, resolved once the process is stopped: the socket stays open but nothing answers. */
  hang(): Promise<void>;
  /** SIGCONT after hang(). */
  resume(): void;
  /** SIGKILL: connections drop and are refused until start(). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and store directory (no-op while it runs). */
  start(): Promise<void>;
  /** Kills the server and removes its store. */
  stop(): Promise<void>;
}

function findBinary(): string | undefined {
  for (const candidate of ["nats-server", "/usr/sbin/nats-server"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${candidate}`], { stdio: "ignore" });
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

/** Undefined outside CI when no nats-server binary is installed (the caller skips). */
export async function startNatsEngine(): Promise<NatsEngine | undefined> {
  const binary = findBinary();
  if (!binary) {
    if (process.env["CI"] === "true") throw new Error("CI needs a nats-server binary");
    return undefined;
  }
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-nats-engine-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    if (alive()) return;
    const process_ = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
      stdio: "ignore",
    });
    child = process_;
    exited = new Promise((resolve) => process_.once("exit", () => resolve()));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (process_.exitCode !== null)
        throw new Error(`nats-server exited with ${process_.exitCode}`);
      if (await portOpen("127.0.0.1", port)) return;
      await sleep(50);
    }
    throw new Error(`nats-server did not open port ${port}`);
  };
  const signal = (name: NodeJS.Signals) => {
    if (alive()) child!.kill(name);
  };
  const kill = async () => {
    signal("SIGKILL");
    await exited;
  };

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    hang: async () => {
      signal("SIGSTOP");
      if (alive()) await waitUntilStopped(() => [child!.pid!]);
    },
    resume: () => signal("SIGCONT"),
    kill,
    start,
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
