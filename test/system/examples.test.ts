/**
 * Every example under examples/ runs as its README says. The test reads the README's shell blocks
 * and runs them: `npx eventail` is the built CLI, Eventail serves on a free port given as $PORT
 * (`--port` values and `127.0.0.1:8080` in later commands are pointed there), functions started
 * with `node … &` run in the background, other commands run in bash (one shell per block). It
 * stands in only for what each case declares: the engines and clusters a reader starts themselves.
 * A README edit that breaks a command, or an example that stops working, fails here.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventailBuilt } from "../support/eventail-process.js";
import { startKafkaEngine } from "../support/kafka-engine.js";
import { KubeApiStandIn } from "../support/kube-api-stand-in.js";
import { type ReadmeCommand, readmeCommands, shellWords } from "../support/readme-commands.js";
import { freePort } from "../support/services.js";
import { KAFKA, NATS, REDIS, type SystemBacking } from "./backings.js";
import { Cleanup, waitUntil } from "./system-support.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const CLI = path.join(ROOT, "dist/src/cli/main.js");

interface RunContext {
  /** Added to the environment of every later command (what `export` or an engine provides). */
  readonly env: Record<string, string>;
  readonly cleanup: Cleanup;
  /** The Eventail process the README started, once it did. */
  eventail?: Background;
}

/** A README command the test does not run but provides itself; the reason is in `why`. */
interface StandIn {
  readonly command: RegExp;
  readonly why: string;
  readonly run?: (context: RunContext) => Promise<void>;
}

/** A README command whose output must match; `repeat`: run it again until it does (async work). */
interface OutputCheck {
  readonly command: RegExp;
  readonly output: RegExp;
  readonly repeat?: boolean;
}

interface ExampleCase {
  readonly example: string;
  /** The README, from the repository root, and the section holding the example's commands. */
  readonly readme: string;
  readonly section?: string;
  readonly standIns?: readonly StandIn[];
  readonly checks?: readonly OutputCheck[];
  /** Lines Eventail's log must print (as the README says), once every command ran. */
  readonly log: readonly RegExp[];
  /** Why this machine cannot run it; the case is skipped. */
  readonly skip?: string;
}

/** A process a README started (Eventail, or a function with `&`), its output collected. */
class Background {
  output = "";
  private readonly exited: Promise<void>;

  constructor(
    readonly what: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
    child.stderr!.on("data", (chunk: Buffer) => (this.output += chunk.toString("utf8")));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    await waitUntil(
      () => {
        if (!this.alive) throw new Error(`${this.what} exited:\n${this.output.slice(-4_000)}`);
        return pattern.test(this.output);
      },
      timeoutMs,
      `${this.what} to print ${pattern}`,
      () => this.output.slice(-4_000),
    );
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** `[ns/sink] id=… type=T source=S data=D` as the IntegrationSink prints it; `…` is any id. */
function logLine(sink: string, id: string, type: string, source: string, data: string): RegExp {
  const idPattern = id.split("…").map(literal).join("\\S*");
  return new RegExp(
    `\\[default/${literal(sink)}\\] id=${idPattern} type=${literal(type)} source=${literal(source)} data=${literal(data)}`,
  );
}

/** Starts the example's engine once, whichever of the README's ways to start it comes first. */
function engineStandIns(backing: SystemBacking, commands: RegExp[]): StandIn[] {
  const why = `the README starts ${backing.kind} itself; the test starts a private one`;
  return commands.map((command) => ({
    command,
    why,
    run: async (context) => {
      const variable = backing.environment.variable;
      if (context.env[variable] !== undefined) return;
      const engine = await backing.outages[0]!.start();
      context.cleanup.defer(() => engine.stop());
      context.env[variable] = engine.connection[backing.environment.key]!;
    },
  }));
}

const durableLog = [
  logLine("log", "…", "dev.example.order", "cli", '{"order":1}'),
  logLine("log", "…", "dev.example.payment", "cli", '{"amount":12}'),
  logLine("log", "order-2", "dev.example.order", "curl", '{"order":2}'),
];
const durableChecks: OutputCheck[] = [{ command: /^curl -i /, output: /^HTTP\/1\.1 202 /m }];

/** The Redis the integration setup provides on :6379, which the mq-trigger manifest names. */
async function freshMqTriggerStreams(): Promise<void> {
  const redis = new Redis("redis://127.0.0.1:6379", { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.del("orders", "orders-done", "orders-failed");
  } finally {
    redis.disconnect();
  }
}

let kubeApi: KubeApiStandIn | undefined;

/** Where the kafka-source manifest (and the README's kcat) expect Kafka. */
const KAFKA_PORT = 9092;

/**
 * Relays localhost:9092 to the mock cluster's bootstrap broker. Clients only bootstrap through
 * it: the mock advertises its brokers as 127.0.0.1:<port>, and they talk to those directly.
 * Both loopback addresses listen, since `localhost` may resolve to either.
 */
async function relayKafkaPort(bootstrap: string): Promise<{ close: () => Promise<void> }> {
  const colon = bootstrap.lastIndexOf(":");
  const [host, port] = [bootstrap.slice(0, colon), Number(bootstrap.slice(colon + 1))];
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const close = async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  };
  for (const address of ["127.0.0.1", "::1"]) {
    const server = net.createServer((client) => {
      const upstream = net.connect({ host, port });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    const error = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once("error", resolve);
      server.listen(KAFKA_PORT, address, () => resolve(undefined));
    });
    if (error === undefined) servers.push(server);
    else if (address === "::1" && ["EADDRNOTAVAIL", "EAFNOSUPPORT"].includes(error.code ?? "")) {
      // No IPv6 loopback here, so `localhost` cannot resolve to it either.
    } else {
      await close();
      throw new Error(
        `examples/kafka-source needs ${address}:${KAFKA_PORT} (its manifest names localhost:${KAFKA_PORT}) but cannot listen there: ${error.code ?? error.message}; stop what holds the port`,
      );
    }
  }
  return { close };
}

const CASES: ExampleCase[] = [
  {
    example: "quickstart",
    readme: "README.md",
    section: "Quickstart",
    checks: [{ command: /^curl -si /, output: /^HTTP\/1\.1 202 Accepted/m }],
    log: [
      logLine("log", "…", "dev.example.hello", "cli", '{"msg":"hi"}'),
      logLine("log", "42", "dev.example.hello", "curl", '{"msg":"hello from curl"}'),
    ],
  },
  {
    example: "sequence",
    readme: "examples/sequence/README.md",
    log: [
      logLine(
        "result",
        "…-step-1-step-2",
        "dev.example.start.step-1.step-2",
        "/examples/sequence/step-2",
        '{"order":1,"steps":["step-1","step-2"]}',
      ),
    ],
  },
  {
    example: "event-transform",
    readme: "examples/event-transform/README.md",
    log: [
      logLine(
        "log",
        "order-1",
        "dev.example.order.summary",
        "/examples/event-transform",
        '{"order":"order-1","total":11}',
      ),
    ],
  },
  {
    example: "request-reply",
    readme: "examples/request-reply/README.md",
    log: [
      logLine(
        "log",
        "answer-q-1",
        "dev.example.answer",
        "/examples/request-reply/responder",
        '{"product":42}',
      ),
    ],
  },
  {
    example: "authentication",
    readme: "examples/authentication/README.md",
    checks: [
      { command: /ce-id: 1'/, output: /^HTTP\/1\.1 401 [\s\S]*www-authenticate: Bearer/im },
      { command: /Bearer \$TOKEN/, output: /^HTTP\/1\.1 202 /m },
      { command: /Bearer \$OTHER/, output: /^HTTP\/1\.1 403 /m },
    ],
    log: [logLine("log", "2", "dev.example.order", "curl", '{"order":2}')],
  },
  {
    example: "journeys",
    readme: "examples/journeys/README.md",
    section: "Run it",
    checks: [
      {
        command: /trace order-1$/,
        output:
          /^event order-1 from \/shop[\s\S]*Trigger billing: dead-lettered \(to http:\/\/127\.0\.0\.1:\d+\/sinks\/default\/log\)\n(?:.*attempt \d: error: connect ECONNREFUSED.*\n){3} {2}Trigger refunds: filtered-out\n {2}Trigger summaries: filtered-out\n {2}Trigger summarise: replied \(reply order-1-summary\)\n.*attempt 1: HTTP 200 /m,
        repeat: true,
      },
      {
        command: /trace order-1-summary$/,
        output: /Trigger summaries: delivered\n.*attempt 1: HTTP 202 /,
        repeat: true,
      },
    ],
    log: [
      logLine(
        "log",
        "order-1",
        "dev.example.order",
        "/shop",
        '{"items":[{"price":3,"qty":2},{"price":10,"qty":1}]}',
      ),
      logLine(
        "log",
        "order-1-summary",
        "dev.example.order.summary",
        "/examples/journeys",
        '{"order":"order-1","total":16}',
      ),
    ],
  },
  {
    example: "journeys-redis",
    readme: "examples/journeys-redis/README.md",
    section: "Run it",
    standIns: engineStandIns(REDIS, [/^redis-server$/]),
    checks: [
      {
        command: /trace order-3$/,
        output:
          /Trigger billing: dead-lettered[\s\S]*Trigger summarise: replied \(reply order-3-summary\)\n.*attempt 1: HTTP 200 /,
        repeat: true,
      },
    ],
    log: [
      logLine(
        "log",
        "order-3-summary",
        "dev.example.order.summary",
        "/examples/journeys",
        '{"order":"order-3","total":16}',
      ),
    ],
  },
  {
    example: "parallel",
    readme: "examples/parallel/README.md",
    log: [
      logLine("every-event", "small-1", "dev.example.order", "cli", '{"amount":5}'),
      logLine("every-event", "big-1", "dev.example.order", "cli", '{"amount":250}'),
      logLine("big-orders", "big-1", "dev.example.order", "cli", '{"amount":250}'),
    ],
  },
  {
    example: "channel-fanout",
    readme: "examples/channel-fanout/README.md",
    log: [
      logLine("audit", "o-1", "dev.example.order", "cli", '{"n":1}'),
      logLine("dead-letters", "o-1", "dev.example.order", "cli", '{"n":1}'),
    ],
  },
  {
    example: "container",
    readme: "examples/container/README.md",
    log: [
      logLine(
        "log",
        "…-1",
        "dev.example.heartbeat",
        "/examples/container/heartbeat",
        '{"n":1,"message":"still here"}',
      ),
    ],
  },
  {
    example: "jobsink",
    readme: "examples/jobsink/README.md",
    checks: [
      {
        command: /^curl -i /,
        output: /^location: \/namespaces\/default\/name\/report\/sources\/cli\/ids\/r-2\r?$/im,
      },
    ],
    log: [/"msg":"report for 2026-11 \(event r-1\)"/, /"msg":"report for 2026-12 \(event r-2\)"/],
  },
  {
    example: "github",
    readme: "examples/github/README.md",
    checks: [{ command: /^curl -i /, output: /^HTTP\/1\.1 202 /m }],
    log: [
      /\[default\/log\] id=\S+ type=dev\.knative\.source\.github\.push source=https:\/\/github\.com\/acme\/widgets data=\{/,
    ],
  },
  {
    example: "mq-trigger",
    readme: "examples/mq-trigger/README.md",
    standIns: [
      {
        command: /^redis-server --port 6379$/,
        why: "the integration setup serves Redis on :6379; the example's streams start empty",
        run: freshMqTriggerStreams,
      },
    ],
    checks: [
      { command: /XRANGE orders-done/, output: /^HELLO$/m, repeat: true },
      { command: /XRANGE orders-failed/, output: /please fail[\s\S]*status\n500/, repeat: true },
    ],
    log: [],
  },
  {
    example: "apiserver",
    readme: "examples/apiserver/README.md",
    standIns: [
      {
        command: /^kubectl proxy --port 8001$/,
        why: "no cluster here: the Kubernetes API test double serves on :8001 instead",
        run: async (context) => {
          kubeApi = await new KubeApiStandIn().start(8001);
          context.cleanup.defer(() => kubeApi?.close());
        },
      },
      {
        command: /^kubectl run web --image=nginx --labels=app=web && kubectl delete pod web$/,
        why: "the test double gets the pod web (app=web) and loses it, as kubectl would do",
        run: async () => {
          await waitUntil(() => kubeApi!.openWatches >= 1, 20_000, "the source's watch");
          kubeApi!.create({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "web", namespace: "default", labels: { app: "web" } },
          });
          kubeApi!.remove("v1", "Pod", "default", "web");
        },
      },
    ],
    log: [
      /\[default\/log\] id=\S+ type=dev\.knative\.apiserver\.resource\.add source=http:\/\/127\.0\.0\.1:8001 /,
      /\[default\/log\] id=\S+ type=dev\.knative\.apiserver\.resource\.delete source=http:\/\/127\.0\.0\.1:8001 /,
    ],
  },
  {
    example: "kafka-source",
    readme: "examples/kafka-source/README.md",
    standIns: [
      {
        command: /^docker run .* apache\/kafka/,
        why: "a kcat mock cluster stands in for Kafka; the manifest's localhost:9092 is relayed to it",
        run: async (context) => {
          const engine = await startKafkaEngine(1);
          context.cleanup.defer(() => engine.stop());
          const relay = await relayKafkaPort(engine.brokers.split(",")[0]!);
          context.cleanup.defer(() => relay.close());
        },
      },
    ],
    log: [
      // The mock gives `orders` 4 partitions and key k1 lands on 1; the README says so.
      logLine(
        "log",
        "partition:1/offset:0",
        "dev.knative.kafka.event",
        "/apis/v1/namespaces/default/kafkasources/orders#orders",
        '{"order":1}',
      ),
    ],
  },
  ...[
    { backing: REDIS, starts: [/^redis-server$/, /^docker run .* redis:7$/] },
    { backing: NATS, starts: [/^nats-server -js$/, /^docker run .* nats:2 -js$/] },
    {
      backing: KAFKA,
      starts: [
        /^docker run .* apache\/kafka/,
        /^sleep infinity \| kcat /,
        /^export KAFKA_BROKERS=/,
      ],
    },
  ].map(
    ({ backing, starts }): ExampleCase => ({
      example: `${backing.kind}-broker`,
      readme: `examples/${backing.kind}-broker/README.md`,
      standIns: engineStandIns(backing, starts),
      checks: durableChecks,
      log: durableLog,
      ...(backing.outages[0]!.available() ? {} : { skip: `${backing.kind} cannot start here` }),
    }),
  ),
];

interface Finished {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end without blocking the event loop: stand-ins served from this process
 * (the Kafka port relay, the Kubernetes API double) must keep answering while it runs.
 */
function runToEnd(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** Points the README's Eventail address at the port this run serves on. */
function onPort(text: string, port: number): string {
  return text.replace(/\b(127\.0\.0\.1|localhost):(8080|9090)\b/g, `$1:${port}`);
}

function checkOutput(command: ReadmeCommand, output: string): void {
  // A console block shows (some of) the lines the command prints.
  for (const line of command.output) {
    if (line.trim() !== "") expect(output, `${command.text} printed`).toContain(line);
  }
}

async function runReadme(test: ExampleCase, cleanup: Cleanup): Promise<RunContext> {
  let port = await freePort();
  const context: RunContext = { env: { PORT: String(port) }, cleanup };
  const commands = readmeCommands(path.join(ROOT, test.readme), test.section);
  expect(commands.length, `${test.readme} has commands`).toBeGreaterThan(0);
  const assignments = new Map<number, string[]>();
  for (const command of commands) {
    const standIn = test.standIns?.find((s) => s.command.test(command.text));
    if (standIn !== undefined) {
      await standIn.run?.(context);
      continue;
    }
    const text = onPort(command.text, port);
    const env = { ...process.env, EVENTAIL_LOG_LEVEL: "info", ...context.env };
    if (text.startsWith("npx eventail ")) {
      const args = shellWords(text).slice(2);
      if (args[0] === "run") {
        // freePort() only saw the port free: a test beside this one may take it before eventail
        // listens. Then another port is chosen, for this command and every later one.
        for (let attempt = 1; ; attempt++) {
          const at = args.indexOf("--port");
          if (at >= 0) args[at + 1] = String(port);
          const child = spawn(process.execPath, [CLI, ...args], {
            cwd: ROOT,
            env: { ...env, PORT: String(port) },
          });
          const started = new Background(text, child);
          context.eventail = started;
          cleanup.defer(() => started.stop());
          try {
            await started.waitFor(/"msg":"eventail is serving"/, 30_000);
            break;
          } catch (error) {
            if (attempt === 3 || !/EADDRINUSE/.test(started.output)) throw error;
            port = await freePort();
            context.env["PORT"] = String(port);
          }
        }
      } else {
        const check = test.checks?.find((c) => c.command.test(command.text));
        const runOnce = () => runToEnd(process.execPath, [CLI, ...args], env);
        let result = await runOnce();
        if (check?.repeat) {
          await waitUntil(
            async () => {
              result = await runOnce();
              return result.status === 0 && check.output.test(result.stdout);
            },
            30_000,
            `${text} to print ${check.output}`,
            () => result.stdout + result.stderr,
          );
        }
        expect(result.status, `${text}\n${result.stdout}${result.stderr}`).toBe(0);
        if (check) expect(result.stdout, text).toMatch(check.output);
        checkOutput(command, result.stdout);
      }
      continue;
    }
    if (command.background) {
      const child = spawn("bash", ["-c", `exec ${text}`], { cwd: ROOT, env });
      const started = new Background(text, child);
      cleanup.defer(() => started.stop());
      await started.waitFor(/listening/, 10_000);
      continue;
    }
    if (/^[A-Za-z_]\w*=/.test(text)) {
      assignments.set(command.block, [...(assignments.get(command.block) ?? []), text]);
      continue;
    }
    const script = ["set -eo pipefail", ...(assignments.get(command.block) ?? []), text].join("\n");
    const check = test.checks?.find((c) => c.command.test(command.text));
    const runOnce = () => runToEnd("bash", ["-c", script], env);
    let result = await runOnce();
    if (check?.repeat) {
      await waitUntil(
        async () => {
          result = await runOnce();
          return check.output.test(result.stdout);
        },
        30_000,
        `${text} to print ${check.output}`,
        () => result.stdout + result.stderr,
      );
    }
    expect(result.status, `${text}\n${result.stdout}${result.stderr}`).toBe(0);
    if (check) expect(result.stdout, text).toMatch(check.output);
    checkOutput(command, result.stdout);
  }
  return context;
}

describe("the examples", () => {
  it("each folder under examples/ has a case here", () => {
    const folders = readdirSync(path.join(ROOT, "examples"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort();
    expect(CASES.map((test) => test.example).sort()).toEqual(folders);
  });
});

describe.skipIf(!eventailBuilt())("the examples, run as their READMEs say", () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it.each(CASES.filter((test) => test.skip === undefined).map((test) => [test.example, test]))(
    "examples/%s",
    async (_name, test) => {
      const context = await runReadme(test, cleanup);
      const eventail = context.eventail;
      expect(eventail, `${test.readme} starts eventail run`).toBeDefined();
      await waitUntil(
        () => test.log.every((line) => line.test(eventail!.output)),
        30_000,
        `the log lines ${test.log.map(String).join(", ")}`,
        () => eventail!.output.slice(-4_000),
      );
    },
    120_000,
  );

  it.skip.each(
    CASES.filter((test) => test.skip !== undefined).map((test) => [test.example, test.skip]),
  )("examples/%s: %s", () => {});
});
