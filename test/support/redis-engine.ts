import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { waitUntilStopped } from "./process-state.js";
import { freePort, portOpen } from "./services.js";

/**
 * A private redis-server for tests that hang, kill or restart their engine without disturbing
 * the shared one. It keeps an fsync-always append-only file in its own directory, so a restart
 * on the same port after SIGKILL finds every acknowledged write, pending entries included.
 */
export interface RedisEngine {
  readonly url: string;
  /** SIGSTOP: sockets stay open but nothing answers. */
  hang(): Promise<void>;
  /** SIGCONT after hang(). */
  resume(): void;
  /** SIGKILL: connections drop and are refused until restart(). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data directory. */
  restart(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

export async function startRedisEngine(): Promise<RedisEngine> {
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-redis-engine-"));
  const port = await freePort();
  let child = await launch(port, dir);
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGCONT");
    child.kill("SIGKILL");
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    hang: async () => {
      child.kill("SIGSTOP");
      await waitUntilStopped(() => [child.pid!]);
    },
    resume: () => child.kill("SIGCONT"),
    kill,
    restart: async () => {
      await kill();
      child = await launch(port, dir);
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
    ],
    { stdio: "ignore" },
  );
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await portOpen("127.0.0.1", port)) return child;
    await sleep(50);
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not open port ${port}`);
}

/** True when a redis-server binary can be started here (CI installs one). */
export function canStartRedisEngine(): boolean {
  try {
    execFileSync("redis-server", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
