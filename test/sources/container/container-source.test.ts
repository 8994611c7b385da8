import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { containerProcess } from "../../../src/sources/container/container-process.js";
import {
  ContainerSource,
  type ContainerSourceSpec,
  type RestartPolicy,
} from "../../../src/sources/container/container-source.js";
import type { RecordingSink } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

/** A program that posts `count` events to $K_SINK (binary mode, K_CE_OVERRIDES applied), then idles or exits. */
const EMITTER = `
if (process.argv[3] === "ignore-term") process.on("SIGTERM", () => {});
const sink = process.env.K_SINK;
const overrides = JSON.parse(process.env.K_CE_OVERRIDES ?? "{}").extensions ?? {};
const count = Number(process.argv[2]);
for (let i = 1; i <= count; i++) {
  const headers = { "ce-specversion": "1.0", "ce-id": process.pid + "-" + i, "ce-source": "/emitter",
    "ce-type": "dev.example.tick", "content-type": "application/json" };
  for (const [name, value] of Object.entries(overrides)) headers["ce-" + name] = value;
  await fetch(sink, { method: "POST", headers,
    body: JSON.stringify({ n: i, pid: process.pid, greeting: process.env.GREETING, at: Date.now() }) });
}
if (process.argv[3] === "exit") process.exit(0);
setInterval(() => {}, 1 << 30);
`;

let harness: SourceHarness;
let sink: RecordingSink;
let dir: string;

beforeEach(async () => {
  harness = new SourceHarness();
  sink = await harness.recordingSink();
  dir = mkdtempSync(path.join(tmpdir(), "eventail-container-"));
  writeFileSync(path.join(dir, "emitter.mjs"), EMITTER);
});
afterEach(async () => {
  await harness.close();
});

function spec(args: string[], extra: Partial<ContainerSourceSpec> = {}): ContainerSourceSpec {
  return {
    template: {
      spec: {
        containers: [
          {
            name: "emitter",
            image: "ignored/standalone",
            command: [process.execPath, "emitter.mjs"],
            args,
            env: [{ name: "GREETING", value: "hello" }],
          },
        ],
      },
    },
    ceOverrides: { extensions: { team: "blue" } },
    ...extra,
  };
}

async function run(args: string[], policy: RestartPolicy = {}) {
  const source = new ContainerSource(
    "default",
    "emitter",
    containerProcess(spec(args), path.join(dir, "manifest.yaml"), sink.url, () => undefined),
    silentLogger(),
    { initialBackoffMs: 100, ...policy },
  );
  await source.start();
  harness.defer(() => source.stop());
  return source;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("ContainerSource", () => {
  it("runs the command with K_SINK and K_CE_OVERRIDES: a script posting 3 events gives 3 deliveries", async () => {
    await run(["3"]);
    await sink.waitFor(3);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sink.events).toHaveLength(3);
    expect(sink.events.map((e) => JSON.parse(e.data!.toString()).n)).toEqual([1, 2, 3]);
    for (const event of sink.events) {
      expect(event.attributes).toMatchObject({ type: "dev.example.tick", team: "blue" });
      expect(JSON.parse(event.data!.toString()).greeting).toBe("hello");
    }
  });

  it("restarts the process when it is killed", async () => {
    const source = await run(["1"]);
    await sink.waitFor(1);
    const first = source.pid!;
    process.kill(first, "SIGKILL");
    await sink.waitFor(2);
    const pids = sink.events.map((e) => JSON.parse(e.data!.toString()).pid);
    expect(pids[0]).toBe(first);
    expect(pids[1]).not.toBe(first);
    expect(source.starts).toBe(2);
  });

  it("backs off exponentially between restarts of a process that keeps exiting", async () => {
    await run(["1", "exit"], { initialBackoffMs: 150 });
    await sink.waitFor(4, 15_000);
    const starts = sink.events.map((e) => JSON.parse(e.data!.toString()).at as number);
    const gaps = starts.slice(1).map((at, i) => at - starts[i]!);
    expect(gaps[0]).toBeGreaterThanOrEqual(150);
    expect(gaps[1]).toBeGreaterThanOrEqual(300);
    expect(gaps[2]).toBeGreaterThanOrEqual(600);
  });

  it.each<[string, string, number]>([
    ["stops a process with SIGTERM", "idle", 5_000],
    ["kills a process that ignores SIGTERM once the grace period is over", "ignore-term", 300],
  ])("%s, and does not restart it", async (_name, mode, graceMs) => {
    const source = await run(["1", mode], { graceMs });
    await sink.waitFor(1);
    const pid = source.pid!;
    const began = Date.now();
    await source.stop();
    expect(alive(pid)).toBe(false);
    if (mode === "ignore-term") expect(Date.now() - began).toBeGreaterThanOrEqual(graceMs);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(source.starts).toBe(1);
  });
});

describe("containerProcess", () => {
  const base: ContainerSourceSpec = {
    template: {
      spec: {
        containers: [
          {
            command: ["./bin/emit", "--verbose"],
            args: ["--count", "3"],
            workingDir: "work",
            env: [
              { name: "PLAIN", value: "1" },
              { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
              { name: "K_SINK", value: "http://overridden.invalid" },
            ],
          },
        ],
      },
    },
    ceOverrides: { extensions: { a: "b" } },
  };

  it("puts command and args together, resolves workingDir against the manifest's folder, and layers the environment", () => {
    const launch = containerProcess(
      base,
      path.join(dir, "manifest.yaml"),
      "http://127.0.0.1:9/sink",
      (name, key) => (name === "creds" && key === "token" ? "s3cret" : undefined),
      { PATH: "/usr/bin", PLAIN: "from-process" },
    );
    expect(launch.command).toBe("./bin/emit");
    expect(launch.args).toEqual(["--verbose", "--count", "3"]);
    expect(launch.cwd).toBe(path.join(dir, "work"));
    expect(launch.env).toEqual({
      PATH: "/usr/bin",
      PLAIN: "1",
      TOKEN: "s3cret",
      K_SINK: "http://127.0.0.1:9/sink",
      K_CE_OVERRIDES: '{"extensions":{"a":"b"}}',
    });
  });

  it("names the field when a Secret the environment needs is missing", () => {
    expect(() =>
      containerProcess(base, path.join(dir, "m.yaml"), "http://x.invalid", () => undefined, {}),
    ).toThrow(
      "spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef: key token of Secret creds not found",
    );
  });

  it("refuses a container without a command (an image alone cannot run standalone)", () => {
    const noCommand = { template: { spec: { containers: [{ image: "busybox" }] } } };
    expect(() => containerProcess(noCommand, "m.yaml", undefined, () => undefined, {})).toThrow(
      "spec.template.spec.containers[0].command",
    );
  });
});
