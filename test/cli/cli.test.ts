import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENTAIL_CLI, eventailBuilt } from "../support/eventail-process.js";
import { freePort } from "../support/services.js";
import { startSink } from "../support/sink.js";

const CLI = EVENTAIL_CLI;

function run(
  args: string[],
  timeoutMs = 15_000,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`eventail ${args.join(" ")} timed out`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running eventail process whose stdout is collected. */
function serve(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, EVENTAIL_LOG_LEVEL: "warn", ...env },
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  return { child, output: () => output };
}

async function waitForText(
  read: () => string,
  pattern: RegExp,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(read())) {
    if (Date.now() > deadline) throw new Error(`never saw ${pattern} in:\n${read()}`);
    await sleep(50);
  }
  return read();
}

async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} never became ready`);
}

describe.skipIf(!eventailBuilt())("the eventail command", () => {
  it("prints its version and help, exit 0", async () => {
    const version = await run(["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    for (const command of ["run", "validate", "send", "display"])
      expect(help.stdout).toContain(command);
    expect((await run(["send", "--help"])).stdout).toContain("--extension");
  });

  it("run --help shows --port with its default ($PORT, else 8080) and an example", async () => {
    const help = await run(["run", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--port <port> +port to listen on \(default: \$PORT, else 8080\)/);
    expect(help.stdout).toContain("eventail run -f examples/quickstart --port 9090");
  });

  it("run --help lists the TLS and slow-client flags with their defaults (CONTRACT §1, §10)", async () => {
    const help = (await run(["run", "--help"])).stdout.replace(/\s+/g, " ");
    expect(help).toContain("--tls-cert <file>");
    expect(help).toContain("--tls-key <file>");
    expect(help).toMatch(/--header-timeout <duration> .*default: PT10S/);
    expect(help).toMatch(/--body-timeout <duration> .*default: PT60S/);
    expect(help).toMatch(/--max-connections <n> .*default: 10000/);
  });

  it.each([
    [
      "--tls-cert without --tls-key",
      ["--tls-cert", "cert.pem"],
      "--tls-cert and --tls-key go together",
    ],
    ["a header timeout of zero", ["--header-timeout", "0"], "--header-timeout"],
    ["a body timeout that is no duration", ["--body-timeout", "soon"], "--body-timeout"],
    ["a connection cap of zero", ["--max-connections", "0"], "--max-connections"],
  ])("run refuses %s: exit 2 naming the flag", async (_name, flags, fragment) => {
    const result = await run(["run", "-f", "examples/quickstart", "--port", "0", ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(fragment);
  });

  describe("the port run listens on", () => {
    /** Serves the quickstart with these flags and environment; answers whether `port` is ready. */
    async function servesOn(args: string[], env: NodeJS.ProcessEnv, port: number) {
      const server = serve(["run", "-f", "examples/quickstart", ...args], env);
      try {
        await waitReady(`http://127.0.0.1:${port}`);
      } finally {
        server.child.kill("SIGTERM");
        await new Promise((resolve) => server.child.once("exit", resolve));
      }
    }

    it("$PORT, when no --port is given", async () => {
      const port = await freePort();
      await servesOn([], { PORT: String(port) }, port);
    });

    it("--port, over $PORT", async () => {
      const port = await freePort();
      await servesOn(["--port", String(port)], { PORT: "1" }, port);
    });

    it("a PORT that is not a port number is a one-line error naming PORT, exit 2", async () => {
      const result = await run(["run", "-f", "examples/quickstart"], 15_000, {
        ...process.env,
        PORT: "eighty",
      });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe("eventail: PORT must be a port number (0-65535), not eighty\n");
    });
  });

  it("exits 2 on bad usage", async () => {
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run(["run"])).code).toBe(2);
    expect((await run(["send", "http://127.0.0.1:1/x", "--type", "t"])).code).toBe(2);
  });

  it("validate prints every problem as file:line kind/ns/name path: message and exits 2", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-cli-"));
    const file = path.join(dir, "broken.yaml");
    writeFileSync(
      file,
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: broken
spec:
  broker: default
  filter:
    attributes:
      Bad_Name: x
  filters:
    - exact: {type: a}
      prefix: {type: b}
  subscriber:
    uri: http://127.0.0.1:9/
  delivery:
    retry: -1
    backoffDelay: soon
`,
    );
    const result = await run(["validate", "-f", dir]);
    expect(result.code).toBe(2);
    const out = result.stdout + result.stderr;
    const lines = out.split("\n").filter((line) => line.includes("Trigger/default/broken"));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines)
      expect(line).toMatch(/^.*broken\.yaml:\d+ Trigger\/default\/broken spec\.[\w.[\]]+: .+/);
    expect(out).toContain("spec.filter.attributes");
    expect(out).toContain("spec.filters[0]");
    expect(out).toContain("spec.delivery.retry");
    expect(out).toContain("spec.delivery.backoffDelay");
  });

  it("validate accepts the quickstart", async () => {
    const result = await run(["validate", "-f", "examples/quickstart"]);
    expect(result.code).toBe(0);
  });

  describe("run + send on the quickstart", () => {
    let server: ReturnType<typeof serve>;
    let url: string;

    beforeAll(async () => {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      server = serve(["run", "-f", "examples/quickstart", "--port", String(port)]);
      await waitReady(url);
    });

    afterAll(async () => {
      server.child.kill("SIGTERM");
      await new Promise((resolve) => server.child.once("exit", resolve));
    });

    it("send prints 202 and the log sink prints the event", async () => {
      const sent = await run([
        "send",
        `${url}/default/default`,
        "--type",
        "dev.example.hello",
        "--source",
        "cli",
        "--id",
        "cli-1",
        "--data",
        '{"msg":"hi"}',
      ]);
      expect(sent.code).toBe(0);
      expect(sent.stdout.trim()).toBe("202");
      const output = await waitForText(server.output, /id=cli-1/);
      expect(output).toContain(
        '[default/log] id=cli-1 type=dev.example.hello source=cli data={"msg":"hi"}',
      );
    });

    it("send in structured mode with an extension", async () => {
      const sent = await run([
        "send",
        `${url}/default/default`,
        "--type",
        "dev.example.hello",
        "--source",
        "cli",
        "--id",
        "cli-2",
        "--mode",
        "structured",
        "--extension",
        "team=a",
        "--data",
        '{"n":2}',
      ]);
      expect(sent.stdout.trim()).toBe("202");
      await waitForText(server.output, /id=cli-2/);
    });

    it("send reports a rejected event with its status and exits 1", async () => {
      const sent = await run(["send", `${url}/default/missing`, "--type", "t", "--source", "s"]);
      expect(sent.code).toBe(1);
      expect(sent.stdout).toContain("404");
    });

    it("exits 0 on SIGTERM after draining", async () => {
      const port = await freePort();
      const other = serve(["run", "-f", "examples/quickstart", "--port", String(port)]);
      await waitReady(`http://127.0.0.1:${port}`);
      other.child.kill("SIGTERM");
      const code = await new Promise((resolve) => other.child.once("exit", resolve));
      expect(code).toBe(0);
    });
  });

  describe("send refuses bad input with one line naming the flag, exit 2, and sends nothing", () => {
    let sink: Awaited<ReturnType<typeof startSink>>;
    beforeAll(async () => {
      sink = await startSink();
    });
    afterAll(() => sink.close());

    it.each([
      {
        name: "a --data-file that does not exist",
        args: ["--data-file", "/missing/data.json"],
        error: "--data-file /missing/data.json: cannot read it (no such file)",
      },
      {
        name: "a --data-file that is a directory",
        args: ["--data-file", "examples"],
        error: "--data-file examples: cannot read it (it is a directory)",
      },
      {
        name: "--data that is not JSON while the content type is JSON (the default)",
        args: ["--data", "{msg:hi}"],
        error: /^--data is not JSON \(.+\); send JSON, or set --content-type$/,
      },
      {
        name: "a --data-file that is not JSON while the content type is JSON",
        args: ["--data-file", "README.md", "--content-type", "application/json"],
        error: /^--data-file README\.md is not JSON \(.+\); send JSON, or set --content-type$/,
      },
      {
        name: "an empty --type (the SDK's schema)",
        args: ["--type", ""],
        error: "--type: must NOT have fewer than 1 characters",
      },
      {
        name: "an extension name with capitals (the SDK's rule)",
        args: ["--extension", "Team=a"],
        error: "--extension Team: invalid extension name: Team",
      },
      { name: "an empty --id", args: ["--id", ""], error: "--id must not be empty" },
      {
        name: "an unknown --mode",
        args: ["--mode", "batch"],
        error: "--mode must be binary or structured, not batch",
      },
    ])("$name", async ({ args, error }) => {
      const result = await run(["send", sink.url, "--type", "t", "--source", "s", ...args]);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      const message = lines[0]!.replace(/^eventail send: /, "");
      if (typeof error === "string") expect(message).toBe(error);
      else expect(message).toMatch(error);
      expect(sink.requests).toHaveLength(0);
    });
  });

  it.each(["binary", "structured"])(
    "send in %s mode: the SDK adds time; JSON data arrives byte for byte as written; text data keeps its content type",
    async (mode) => {
      const sink = await startSink();
      try {
        const json = '{ "amount": 1.50, "big": 12345678901234567890 }';
        const sent = await run([
          "send",
          sink.url,
          "--type",
          "t",
          "--source",
          "s",
          "--id",
          `${mode}-1`,
          "--mode",
          mode,
          "--data",
          json,
        ]);
        expect(sent.stdout.trim()).toBe("202");
        const text = await run([
          "send",
          sink.url,
          "--type",
          "t",
          "--source",
          "s",
          "--mode",
          mode,
          "--content-type",
          "text/plain",
          "--data",
          "{not json}",
        ]);
        expect(text.code).toBe(0);
        const [first, second] = await sink.waitFor(2);
        expect(first!.event!.attributes["id"]).toBe(`${mode}-1`);
        expect(first!.event!.attributes["time"]).toMatch(/^\d{4}-\d\d-\d\dT/);
        expect(first!.event!.attributes["datacontenttype"]).toBe("application/json");
        expect(first!.event!.data!.toString("utf8")).toBe(json);
        expect(second!.event!.attributes["datacontenttype"]).toBe("text/plain");
        expect(second!.event!.data!.toString("utf8")).toBe("{not json}");
      } finally {
        await sink.close();
      }
    },
  );

  it("display prints received events and answers 202", async () => {
    const port = await freePort();
    const display = serve(["display", "--port", String(port)]);
    try {
      await waitForText(display.output, /listening/);
      const sent = await run([
        "send",
        `http://127.0.0.1:${port}/`,
        "--type",
        "dev.example.shown",
        "--source",
        "cli",
        "--id",
        "d-1",
        "--data",
        '{"a":1}',
      ]);
      expect(sent.stdout.trim()).toBe("202");
      const output = await waitForText(display.output, /dev\.example\.shown/);
      expect(output).toContain("id: d-1");
      expect(output).toContain('"a": 1');
    } finally {
      display.child.kill("SIGTERM");
    }
  });

  it("run refuses invalid manifests with exit 2", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-cli-"));
    writeFileSync(
      path.join(dir, "t.yaml"),
      "apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata:\n  name: x\nspec: {}\n",
    );
    const result = await run(["run", "-f", dir, "--port", "0"]);
    expect(result.code).toBe(2);
    // Read and validated in the configuration worker: the problems still name file and line.
    const file = path.join(dir, "t.yaml");
    expect(result.stderr).toContain(
      `${file}:5 Trigger/default/x spec.broker: required field is missing`,
    );
    expect(result.stderr).toContain(
      `${file}:5 Trigger/default/x spec.subscriber: required field is missing`,
    );
    expect(result.stderr).toContain("2 problem(s); nothing was started");
  });

  it("SIGHUP re-reads the manifests", async () => {
    const first = await startSink();
    const second = await startSink();
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-cli-"));
    const manifest = (url: string) =>
      `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: default
  subscriber: {uri: "${url}"}
`;
    writeFileSync(path.join(dir, "m.yaml"), manifest(first.url));
    const port = await freePort();
    // --no-watch: only the signal can make the process re-read the file.
    const server = serve(["run", "-f", dir, "--port", String(port), "--no-watch"]);
    try {
      await waitReady(`http://127.0.0.1:${port}`);
      writeFileSync(path.join(dir, "m.yaml"), manifest(second.url));
      server.child.kill("SIGHUP");
      const deadline = Date.now() + 10_000;
      while (second.requests.length === 0 && Date.now() < deadline) {
        await run([
          "send",
          `http://127.0.0.1:${port}/default/default`,
          "--type",
          "t",
          "--source",
          "s",
        ]);
      }
      expect(second.requests.length).toBeGreaterThan(0);
    } finally {
      server.child.kill("SIGTERM");
      await first.close();
      await second.close();
    }
  });

  it("a real sink receives from a trigger on a running process", async () => {
    const sink = await startSink();
    try {
      const dir = mkdtempSync(path.join(tmpdir(), "eventail-cli-"));
      writeFileSync(
        path.join(dir, "m.yaml"),
        `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: default
  subscriber: {uri: "${sink.url}"}
`,
      );
      const port = await freePort();
      const server = serve(["run", "-f", dir, "--port", String(port)]);
      try {
        await waitReady(`http://127.0.0.1:${port}`);
        await run([
          "send",
          `http://127.0.0.1:${port}/default/default`,
          "--type",
          "t",
          "--source",
          "s",
          "--id",
          "x1",
        ]);
        const [received] = await sink.waitFor(1);
        expect(received!.event!.attributes["id"]).toBe("x1");
      } finally {
        server.child.kill("SIGTERM");
      }
    } finally {
      await sink.close();
    }
  });
});
