import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startKafkaEngine } from "./kafka-engine.js";

/**
 * Finds the engines integration tests need, in this order: the environment variable, the engine's
 * default port on localhost, a local binary started for the run, then testcontainers when a Docker
 * engine answers. In CI (CI=true) a service that cannot be found fails the run; elsewhere the
 * tests that need it are skipped with the reason printed.
 */
export type ServiceName = "redis" | "nats" | "kafka" | "rabbitmq" | "mqtt";

const ENV: Record<ServiceName, string> = {
  redis: "REDIS_URL",
  nats: "NATS_URL",
  kafka: "KAFKA_BROKERS",
  rabbitmq: "RABBITMQ_URL",
  mqtt: "MQTT_URL",
};

const started: Array<{ stop: () => Promise<void> }> = [];

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

/** Whether `name` is a command on PATH (or an executable path). */
export function hasBinary(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await portOpen("127.0.0.1", port)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not open port ${port}`);
}

function track(child: ChildProcess): void {
  started.push({
    stop: async () => {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((resolve) => child.once("exit", resolve));
      }
    },
  });
}

async function startRedis(): Promise<string | undefined> {
  if (!hasBinary("redis-server")) return undefined;
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  track(child);
  await waitForPort(port, child, "redis-server");
  return `redis://127.0.0.1:${port}`;
}

async function startNats(): Promise<string | undefined> {
  const binary = ["nats-server", "/usr/sbin/nats-server"].find(hasBinary);
  if (!binary) return undefined;
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-nats-"));
  const child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
    stdio: "ignore",
  });
  track(child);
  await waitForPort(port, child, "nats-server");
  return `nats://127.0.0.1:${port}`;
}

/** librdkafka's mock cluster, driven by kcat (kafka-engine.ts), kept for the whole run. */
async function startKafkaMock(): Promise<string | undefined> {
  if (!hasBinary("kcat")) return undefined;
  const engine = await startKafkaEngine();
  started.push(engine);
  return engine.brokers;
}

async function dockerAnswers(): Promise<boolean> {
  try {
    execFileSync("docker", ["info"], { stdio: "ignore", timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

async function startContainer(service: ServiceName): Promise<string | undefined> {
  if (!(await dockerAnswers())) return undefined;
  const { GenericContainer } = await import("testcontainers");
  if (service === "redis") {
    const container = await new GenericContainer("redis:7").withExposedPorts(6379).start();
    started.push({ stop: async () => void (await container.stop()) });
    return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  }
  if (service === "nats") {
    const container = await new GenericContainer("nats:2")
      .withCommand(["-js"])
      .withExposedPorts(4222)
      .start();
    started.push({ stop: async () => void (await container.stop()) });
    return `nats://${container.getHost()}:${container.getMappedPort(4222)}`;
  }
  return undefined;
}

/** Resolves one service to its connection string, or undefined when none can be had. */
export async function locateService(service: ServiceName): Promise<string | undefined> {
  const fromEnv = process.env[ENV[service]];
  if (fromEnv) return fromEnv;
  if (service === "redis" && (await portOpen("127.0.0.1", 6379))) return "redis://127.0.0.1:6379";
  if (service === "nats" && (await portOpen("127.0.0.1", 4222))) return "nats://127.0.0.1:4222";
  // RabbitMQ and Mosquitto run as system services (.ci/run starts them); none is started here.
  if (service === "rabbitmq") {
    return (await portOpen("127.0.0.1", 5672)) ? "amqp://guest:guest@127.0.0.1:5672" : undefined;
  }
  if (service === "mqtt") {
    return (await portOpen("127.0.0.1", 1883)) ? "mqtt://127.0.0.1:1883" : undefined;
  }
  const local =
    service === "redis"
      ? await startRedis()
      : service === "nats"
        ? await startNats()
        : await startKafkaMock();
  return local ?? (await startContainer(service));
}

export async function stopStartedServices(): Promise<void> {
  await Promise.all(started.splice(0).map((s) => s.stop()));
}

/**
 * For tests: the service's connection string from the environment the global setup prepared.
 * Returns undefined (and the caller skips) only outside CI.
 */
export function serviceUrl(service: ServiceName): string | undefined {
  const value = process.env[ENV[service]];
  if (!value && process.env["CI"] === "true") {
    throw new Error(`${service} is required in CI but was not found (${ENV[service]} unset)`);
  }
  return value || undefined;
}
