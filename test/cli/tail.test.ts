import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  EVENTAIL_CLI,
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { freePort } from "../support/services.js";
import { brokerYaml, type RecordingSink, startSink, triggerYaml } from "../support/sink.js";

const children: ChildProcess[] = [];
const sinks: RecordingSink[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  await stopEventailProcesses();
  for (const sink of sinks.splice(0)) await sink.close();
});

/** `eventail tail ...` as a process; its output collected, its exit awaited. */
function tail(args: string[]) {
  const child = spawn(process.execPath, [EVENTAIL_CLI, "tail", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { stdout: () => stdout, stderr: () => stderr, exited };
}

async function waitFor(read: () => string, pattern: RegExp, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`never saw ${what} in:\n${read()}`);
    await sleep(50);
  }
}

async function post(url: string, id: string, type: string): Promise<void> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/cli-test",
      "ce-type": type,
      "ce-time": "2026-01-02T03:04:05Z",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

describe.skipIf(!eventailBuilt())("eventail tail", () => {
  it("prints one line per accepted event and its outcomes indented, filtered by CESQL, from a real eventail run", async () => {
    const ok = await startSink();
    sinks.push(ok);
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-tail-"));
    const file = path.join(dir, "manifests.yaml");
    writeFileSync(
      file,
      `${brokerYaml("default")}\n${triggerYaml("t1", ok.url, "", "", "default", { "eventail.io/delivery.order": "ordered" })}`,
    );
    const server = await EventailProcess.start("tail-server", { manifests: [file] });

    const reader = tail([
      "--server",
      server.url,
      "-n",
      "default",
      "--broker",
      "default",
      "--filter",
      "type <> 'dev.hidden'",
    ]);
    // The tail connects on its own time: probe until it shows an event, then send the real ones.
    for (let i = 0; !/probe-/.test(reader.stdout()); i++) {
      if (i > 200) throw new Error(`the tail never showed a probe:\n${reader.stderr()}`);
      await post(`${server.url}/default/default`, `probe-${i}`, "dev.probe");
      await sleep(100);
    }
    await post(`${server.url}/default/default`, "hidden-1", "dev.hidden");
    await post(`${server.url}/default/default`, "shown-1", "dev.shown");

    await waitFor(
      reader.stdout,
      /Trigger\/t1 delivered 202 \(attempt 1\)\s+\/cli-test\s+shown-1/,
      "shown-1's outcome",
    );
    const lines = reader.stdout().split("\n");
    expect(lines).toContain("2026-01-02T03:04:05Z  dev.shown  /cli-test  shown-1");
    expect(lines).toContain("    Trigger/t1 delivered 202 (attempt 1)  /cli-test  shown-1");
    // The subscriber got the hidden event: only the tail's filter kept it out.
    expect(ok.events.some((e) => e.attributes["id"] === "hidden-1")).toBe(true);
    expect(reader.stdout()).not.toContain("hidden-1");

    // The server shutting down ends the stream: the tail ends too, successfully.
    await server.stop();
    expect(await reader.exited).toBe(0);
  });

  it.each([
    {
      name: "a filter that does not parse is a usage error naming its position",
      args: (url: string) => ["--server", url, "--filter", "type = "],
      code: 2,
      message: /eventail tail: 400 filter: line 1, column 8: /,
    },
    {
      name: "a server that does not answer is said in one line",
      args: (_url: string, port: number) => ["--server", `http://127.0.0.1:${port}`],
      code: 1,
      message: /eventail tail: cannot reach http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/,
    },
  ])("$name", async ({ args, code, message }) => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-tail-"));
    const file = path.join(dir, "manifests.yaml");
    writeFileSync(file, brokerYaml("default"));
    const server = await EventailProcess.start("tail-server", { manifests: [file] });
    const reader = tail(args(server.url, await freePort()));
    expect(await reader.exited).toBe(code);
    expect(reader.stderr()).toMatch(message);
    expect(reader.stderr().trim().split("\n")).toHaveLength(1);
  });
});
