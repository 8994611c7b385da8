import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { postEvent, TlsClient, writePairFiles } from "../security/tls-harness.js";
import { EVENTAIL_CLI, eventailBuilt } from "../support/eventail-process.js";
import { makeTestCa, makeTestLeaf, type TestCa, type TestLeaf } from "../support/test-certs.js";

/**
 * `eventail run`'s TLS and slow-client flags reach the server: the built command line, run on the
 * quickstart, serves HTTPS with --tls-cert/--tls-key and cuts a slow client at --body-timeout.
 */

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null) continue;
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
});

let ca: TestCa;
let leaf: TestLeaf;
beforeAll(async () => {
  ca = await makeTestCa();
  leaf = await makeTestLeaf(ca);
});

/** Starts `eventail run -f examples/quickstart --port 0 ...flags`; resolves with its URL. */
async function run(flags: string[]): Promise<string> {
  const child = spawn(
    process.execPath,
    [EVENTAIL_CLI, "run", "-f", "examples/quickstart", "--port", "0", "--no-watch", ...flags],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EVENTAIL_LOG_LEVEL: "info" } },
  );
  children.push(child);
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const serving = /"url":"(https?:\/\/127\.0\.0\.1:\d+)"[^\n]*"msg":"eventail is serving"/.exec(
      output,
    );
    if (serving) return serving[1]!;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no start:\n${output}`);
    await sleep(50);
  }
}

describe.skipIf(!eventailBuilt())("eventail run's TLS and slow-client flags", () => {
  it("--tls-cert/--tls-key: the quickstart is served over HTTPS with that certificate", async () => {
    const files = writePairFiles(leaf, ca);
    const url = await run(["--tls-cert", files.certFile, "--tls-key", files.keyFile]);
    expect(url).toMatch(/^https:/);
    const client = await TlsClient.connect(Number(new URL(url).port), ca.cert);
    expect(client.fingerprint256).toBe(leaf.fingerprint256);
    client.close();
    expect(await postEvent(`${url}/default/default`, ca.cert, "cli-tls")).toBe(202);
  });

  // The body limit rather than the header one: its default (60 s) outlasts the test's own
  // timeout, so only the flag can make this pass.
  it("--body-timeout 1: a client trickling its body is answered 408 and closed", async () => {
    const url = await run(["--body-timeout", "1"]);
    const socket = net.connect(Number(new URL(url).port), "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.on("error", () => {});
    let closed = false;
    const close = new Promise<void>((resolve) =>
      socket.once("close", () => {
        closed = true;
        resolve();
      }),
    );
    const body = JSON.stringify({ pad: "x".repeat(80) });
    socket.write(
      "POST /default/default HTTP/1.1\r\nhost: x\r\nce-specversion: 1.0\r\nce-id: 1\r\n" +
        `ce-source: /cli\r\nce-type: t\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    while (!closed && sent < body.length) {
      socket.write(body[sent++]!);
      await Promise.race([sleep(1_000), close]);
    }
    expect(sent).toBeLessThan(body.length);
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });
});
