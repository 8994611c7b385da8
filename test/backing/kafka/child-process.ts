import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import ts from "typescript";

/**
 * Runs the Kafka (or RabbitMQ) backing in a separate Node process that a test can SIGKILL, to see what a real
 * crash leaves behind (no LeaveGroup, no last commit). Tests run TypeScript through vitest, so
 * the backing's sources are transpiled into a temporary directory for the child.
 */

const ROOT = path.resolve(import.meta.dirname, "../../..");
/** The backings a child can run (the RabbitMQ kill test uses this too). */
type ChildBacking = "kafka" | "rabbitmq";
const LOCAL_IMPORT = /(?:from|import)\s*["'](\.{1,2}\/[^"']+)\.js["']/g;

function transpileTree(outDir: string, kind: ChildBacking): void {
  const pending = [`src/backing/${kind}/index.ts`, "src/observability/logger.ts"];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(path.join(ROOT, file), "utf8");
    for (const match of source.matchAll(LOCAL_IMPORT)) {
      pending.push(path.join(path.dirname(file), `${match[1]}.ts`));
    }
    const output = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const target = path.join(outDir, file.replace(/\.ts$/, ".js"));
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, output);
  }
}

const childMain = (kind: ChildBacking) => `
import { createBacking } from "./src/backing/${kind}/index.js";
import { silentLogger } from "./src/observability/logger.js";
const [settings, stream, consumer] = process.argv.slice(2);
const backing = await createBacking(
  { kind: "${kind}", settings: JSON.parse(settings) },
  { logger: silentLogger() },
);
await backing.subscribe(
  stream,
  consumer,
  (event) => {
    process.stdout.write("HOLDING " + event.attributes.id + "\\n");
    return new Promise(() => {});
  },
  { concurrency: 64, ordered: false },
);
process.stdout.write("READY\\n");
`;

/** A process that subscribes as `consumer` and holds every event it gets, never acking. */
export class HoldingProcess {
  readonly held: string[] = [];
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;

  private constructor(
    private readonly dir: string,
    settings: Record<string, string>,
    stream: string,
    consumer: string,
  ) {
    this.child = spawn(
      process.execPath,
      [path.join(dir, "main.mjs"), JSON.stringify(settings), stream, consumer],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.ready = new Promise((resolve, reject) => {
      let buffered = "";
      this.child.stdout!.on("data", (chunk: Buffer) => {
        buffered += chunk.toString("utf8");
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          if (line === "READY") resolve();
          else if (line.startsWith("HOLDING ")) this.held.push(line.slice("HOLDING ".length));
        }
      });
      this.child.once("exit", (code) =>
        reject(new Error(`child exited with ${code} before READY`)),
      );
    });
  }

  static async start(
    settings: Record<string, string>,
    stream: string,
    consumer: string,
    kind: ChildBacking = "kafka",
  ): Promise<HoldingProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), `eventail-${kind}-child-`));
    transpileTree(dir, kind);
    writeFileSync(path.join(dir, "package.json"), '{"type":"module"}');
    writeFileSync(path.join(dir, "main.mjs"), childMain(kind));
    symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
    const child = new HoldingProcess(dir, settings, stream, consumer);
    try {
      await child.ready;
    } catch (error) {
      await child.kill();
      throw error;
    }
    return child;
  }

  /** SIGKILL: the process leaves nothing in order behind it. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGKILL");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
