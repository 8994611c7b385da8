import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { processGroup, waitUntilStopped } from "./process-state.js";

/**
 * A private librdkafka mock cluster (driven by kcat) for tests that must hang or kill their
 * engine without disturbing the shared one. The mock picks its own ports and keeps its data in
 * memory, so "restart" is modelled by SIGSTOP (a hung engine) then SIGCONT (it answers again).
 */
export interface KafkaEngine {
  /** Bootstrap list, comma-separated host:port. */
  readonly brokers: string;
  /** SIGSTOP: sockets stay open but nothing answers (resolves once the processes are stopped). */
  hang(): Promise<void>;
  /** SIGCONT after hang(). */
  resume(): void;
  /** SIGKILL: connections are refused from now on. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export async function startKafkaEngine(brokerCount = 3): Promise<KafkaEngine> {
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-kafka-engine-"));
  const log = path.join(dir, "mock.log");
  const child: ChildProcess = spawn(
    "sh",
    [
      "-c",
      `exec sleep infinity | exec kcat -b 127.0.0.1:1 -P -t _keepalive -X test.mock.num.brokers=${brokerCount} 2>"${log}"`,
    ],
    { stdio: "ignore", detached: true },
  );
  const group = child.pid!;
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-group, name);
    } catch {
      // The process group is already gone.
    }
  };
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const kill = async () => {
    signal("SIGKILL");
    if (!exited) await exit;
    // kcat sits in the same process group as `sleep`; SIGKILL of the group takes both.
  };
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    let text = "";
    try {
      text = readFileSync(log, "utf8");
    } catch {
      // The log is not written yet.
    }
    const match = /replaced with (\S+)/.exec(text);
    if (match) {
      return {
        brokers: match[1]!,
        hang: async () => {
          signal("SIGSTOP");
          await waitUntilStopped(() => processGroup(group));
        },
        resume: () => signal("SIGCONT"),
        kill,
        stop: async () => {
          signal("SIGCONT");
          await kill();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    if (exited) break;
    await sleep(100);
  }
  await kill();
  rmSync(dir, { recursive: true, force: true });
  throw new Error("kcat mock cluster did not report its bootstrap servers");
}
