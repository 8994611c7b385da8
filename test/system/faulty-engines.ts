/**
 * Private engines behind a network the test can break: Redis and NATS in a network namespace of
 * their own (faults by nf_tables rules in it), Kafka's mock cluster on loopback (faults by
 * nf_tables rules on `lo` for its brokers' ports, since it advertises 127.0.0.1 addresses).
 */
import type { ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { startKafkaEngine } from "../support/kafka-engine.js";
import { LoopbackPortFaults, NetworkNamespace } from "../support/netns.js";
import { portOpen, serviceUrl } from "../support/services.js";
import { NAMESPACE_RELAY_SCRIPT, startUnixRelay, withCredentialsOf } from "./rabbitmq-relays.js";

export interface FaultyEngine {
  /**
   * The engine's own URL, for a relay to sit in front of; undefined when clients must reach the
   * engine directly (Kafka brokers advertise their addresses, so a relay would be bypassed).
   */
  readonly url: string | undefined;
  /** ConfigMap data naming the engine, or `via` (a relay's URL) in its place. */
  connection(via?: string): Readonly<Record<string, string>>;
  /** Drops `percent` % of the engine's TCP packets, both directions (100: a partition). */
  drop(percent: number): void;
  heal(): void;
  stop(): Promise<void>;
}

async function waitForPort(host: string, port: number, child: ChildProcess, what: string) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await portOpen(host, port)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not open ${host}:${port}`);
}

/** Runs one server in a fresh namespace; everything is removed by stop(), or if start fails. */
async function inNamespace(
  what: string,
  port: number,
  scheme: string,
  command: (address: string, dir: string) => [string, string[]],
): Promise<FaultyEngine> {
  const namespace = NetworkNamespace.create();
  const dir = mkdtempSync(path.join(tmpdir(), `eventail-${what}-`));
  const stop = async () => {
    await namespace.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [binary, args] = command(namespace.address, dir);
    const child = namespace.spawn(binary, args);
    await waitForPort(namespace.address, port, child, `${what} in ${namespace.name}`);
  } catch (error) {
    await stop();
    throw error;
  }
  const url = `${scheme}://${namespace.address}:${port}`;
  return {
    url,
    connection: (via) => ({ url: via ?? url }),
    drop: (percent) => namespace.drop(percent),
    heal: () => namespace.heal(),
    stop,
  };
}

export function startRedisInNamespace(): Promise<FaultyEngine> {
  // Protected mode refuses every client not on loopback; only this host's veth end reaches it.
  return inNamespace("redis", 6379, "redis", (address, dir) => [
    "redis-server",
    [
      "--bind",
      address,
      "--port",
      "6379",
      "--protected-mode",
      "no",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
    ],
  ]);
}

export function startNatsInNamespace(): Promise<FaultyEngine> {
  const binary = ["/usr/sbin/nats-server", "nats-server"].find((candidate) =>
    candidate.startsWith("/") ? existsExecutable(candidate) : true,
  )!;
  return inNamespace("nats", 4222, "nats", (address, dir) => [
    binary,
    ["-a", address, "-p", "4222", "-js", "-sd", dir],
  ]);
}

function existsExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function startKafkaOnLoopback(): Promise<FaultyEngine> {
  const engine = await startKafkaEngine();
  const ports = engine.brokers.split(",").map((broker) => Number(broker.split(":").pop()));
  let faults: LoopbackPortFaults;
  try {
    faults = LoopbackPortFaults.create(ports);
  } catch (error) {
    await engine.stop();
    throw error;
  }
  return {
    url: undefined,
    connection: () => ({ "bootstrap.servers": engine.brokers }),
    drop: (percent) => faults.drop(percent),
    heal: () => faults.heal(),
    stop: async () => {
      faults.remove();
      await engine.stop();
    },
  };
}

/**
 * The shared RabbitMQ node reached through a namespace: a relay inside it listens on the
 * namespace's address and passes each connection over a Unix socket to a relay on this side,
 * which connects to the node. The namespace's rules then cut or thin the AMQP traffic only.
 */
export async function startRabbitmqInNamespace(): Promise<FaultyEngine> {
  const target = serviceUrl("rabbitmq");
  if (!target) throw new Error("no RabbitMQ to reach through a namespace");
  const unix = await startUnixRelay(target);
  let inside: FaultyEngine;
  try {
    inside = await inNamespace("rabbitmq", 5672, "amqp", (address) => [
      process.execPath,
      ["-e", NAMESPACE_RELAY_SCRIPT, address, "5672", unix.socket],
    ]);
  } catch (error) {
    await unix.close();
    throw error;
  }
  const url = withCredentialsOf(inside.url!, target);
  return {
    url,
    connection: (via) => ({ url: via ? withCredentialsOf(via, target) : url }),
    drop: (percent) => inside.drop(percent),
    heal: () => inside.heal(),
    stop: async () => {
      await inside.stop();
      await unix.close();
    },
  };
}
