import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Where each durable engine answers, or why the bench skips it. */
export type EngineKind = "redis" | "nats" | "kafka";

export type Located = { readonly url: string } | { readonly skip: string };

function portOpen(host: string, port: number, timeoutMs = 3_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * librdkafka's mock cluster through kcat: a producer kept alive on an endless stdin, whose log
 * names the bootstrap servers of the three mock brokers it started.
 */
class KafkaMock {
  private constructor(
    readonly bootstrap: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(): Promise<KafkaMock> {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-bench-kafka-"));
    const log = path.join(dir, "mock.log");
    const child = spawn(
      "sh",
      [
        "-c",
        `exec sleep infinity | kcat -b 127.0.0.1:1 -P -t _keepalive -X test.mock.num.brokers=3 2>"${log}"`,
      ],
      { stdio: "ignore", detached: true },
    );
    const mock = new KafkaMock("", child, dir);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      let text = "";
      try {
        text = readFileSync(log, "utf8");
      } catch {
        // not written yet
      }
      const match = /replaced with (\S+)/.exec(text);
      if (match) return new KafkaMock(match[1]!, child, dir);
      await sleep(100);
    }
    mock.stop();
    throw new Error("the kcat mock cluster did not report its bootstrap servers");
  }

  stop(): void {
    try {
      // The shell, sleep and kcat share one process group (detached).
      if (this.child.pid) process.kill(-this.child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class Engines {
  private kafkaMock: KafkaMock | undefined;

  /** REDIS_URL / NATS_URL / KAFKA_BROKERS, then the default local port; Kafka: a mock cluster. */
  async locate(kind: EngineKind): Promise<Located> {
    if (kind === "redis") {
      const url = process.env["REDIS_URL"];
      if (url) return { url };
      if (await portOpen("127.0.0.1", 6379)) return { url: "redis://127.0.0.1:6379" };
      return { skip: "no Redis (REDIS_URL unset, nothing on 127.0.0.1:6379)" };
    }
    if (kind === "nats") {
      const url = process.env["NATS_URL"];
      if (url) return { url };
      if (await portOpen("127.0.0.1", 4222)) return { url: "nats://127.0.0.1:4222" };
      return { skip: "no NATS (NATS_URL unset, nothing on 127.0.0.1:4222)" };
    }
    const brokers = process.env["KAFKA_BROKERS"];
    if (brokers) return { url: brokers };
    if (!hasCommand("kcat")) return { skip: "no Kafka (KAFKA_BROKERS unset, no kcat for a mock)" };
    try {
      this.kafkaMock ??= await KafkaMock.start();
      return { url: this.kafkaMock.bootstrap };
    } catch (error) {
      return { skip: (error as Error).message };
    }
  }

  /** Removes what a run left on a shared engine (its namespace's streams). Best effort. */
  async forget(kind: EngineKind, url: string, namespace: string): Promise<void> {
    const stream = `broker.${namespace}.default`;
    try {
      if (kind === "redis") {
        const { Redis } = await import("ioredis");
        const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
        // Disconnected however it ends: a client left reconnecting keeps the bench from exiting.
        try {
          await redis.connect();
          const keys: string[] = [];
          let cursor = "0";
          do {
            const [next, found] = await redis.scan(
              cursor,
              "MATCH",
              `*${namespace}*`,
              "COUNT",
              1000,
            );
            cursor = next;
            keys.push(...found);
          } while (cursor !== "0");
          if (keys.length > 0) await redis.del(...keys);
        } finally {
          redis.disconnect();
        }
      } else if (kind === "nats") {
        const { connect } = await import("nats");
        const { jetStreamName } = await import("../../src/backing/nats/naming.js");
        const connection = await connect({ servers: url });
        const manager = await connection.jetstreamManager();
        await manager.streams.delete(jetStreamName(stream)).catch(() => false);
        await connection.close();
      }
      // Kafka: the mock cluster lives only as long as this run.
    } catch {
      // Leftovers only cost space on the engine; the next run uses its own namespace.
    }
  }

  stop(): void {
    this.kafkaMock?.stop();
    this.kafkaMock = undefined;
  }
}
