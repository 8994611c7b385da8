import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { signatureOf } from "../../src/sources/github/signature.js";
import { EVENTAIL_CLI, eventailBuilt } from "../support/eventail-process.js";
import { type RecordingSink, startSink } from "../support/sink.js";
import { p256Pem } from "./support.js";

/**
 * No secret leaks (CONTRACT §10): an `eventail run` at debug level, holding Secrets and webhook
 * sources that use them, is driven through successes and failures with credentials in headers
 * and URLs; afterwards none of those values, nor their base64, appears anywhere in its stdout or
 * stderr.
 */

const SECRETS = {
  githubHook: "gh-hook-secret-7f3a9c",
  gitlabToken: "gl-hook-token-91c2e4",
  unusedPassword: "db-password-55e1b0",
  bearer: "xyz-bearer-4d2e8a",
  urlPassword: "url-pass-3b8d17",
  proxyAuth: "proxy-cred-c0ffee",
} as const;

/** Each secret as it might show up: as is, base64, base64url, in a Basic credential. */
function forms(value: string): string[] {
  const b64 = Buffer.from(value).toString("base64");
  return [
    value,
    b64,
    b64.replace(/=+$/, ""),
    Buffer.from(value).toString("base64url"),
    Buffer.from(`user:${value}`).toString("base64"),
  ];
}

const children: ChildProcess[] = [];
const sinks: RecordingSink[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
  for (const sink of sinks.splice(0)) await sink.close();
});

function manifests(failingUrl: string): string {
  const base64 = (text: string) => Buffer.from(text).toString("base64");
  const withPassword = failingUrl.replace("http://", `http://svc:${SECRETS.urlPassword}@`);
  return `apiVersion: v1
kind: Secret
metadata: { name: github-secret }
data:
  secretToken: ${base64(SECRETS.githubHook)}
---
apiVersion: v1
kind: Secret
metadata: { name: gitlab-secret }
stringData:
  token: ${SECRETS.gitlabToken}
---
apiVersion: v1
kind: Secret
metadata: { name: database }
data:
  password: ${base64(SECRETS.unusedPassword)}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default }
---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: { name: widgets }
spec:
  ownerAndRepository: acme/widgets
  secretToken:
    secretKeyRef: { name: github-secret, key: secretToken }
  sink:
    ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default }
---
apiVersion: eventail.io/v1alpha1
kind: GitLabSource
metadata: { name: app }
spec:
  projectUrl: https://gitlab.example.com/group/app
  secretToken:
    secretKeyRef: { name: gitlab-secret, key: token }
  sink:
    ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: failing }
spec:
  broker: default
  subscriber:
    uri: ${withPassword}
  delivery:
    retry: 1
    backoffDelay: PT0.01S
`;
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { method: "POST", body, headers });
  await response.arrayBuffer();
  return response.status;
}

/** A request with 200 headers, one of them Authorization, sent by hand (fetch would refuse). */
function tooManyHeaders(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
    });
    socket.on("error", () => resolve(received));
    socket.on("close", () => resolve(received));
    const lines = Array.from({ length: 200 }, (_, i) => `x-h${i}: ${i}`);
    socket.write(
      `POST /default/default HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${SECRETS.bearer}\r\n${lines.join("\r\n")}\r\ncontent-length: 0\r\n\r\n`,
    );
  });
}

describe.skipIf(!eventailBuilt())("no secret reaches the logs", () => {
  it("debug-level output of a run with Secrets, webhook tokens and bearer tokens holds none of them", async () => {
    const failing = await startSink(() => ({ status: 500, body: "no" }));
    sinks.push(failing);
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-leaks-"));
    writeFileSync(path.join(dir, "manifests.yaml"), manifests(failing.url));
    const child = spawn(
      process.execPath,
      [EVENTAIL_CLI, "run", "-f", dir, "--host", "127.0.0.1", "--port", "0", "--no-watch"],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, EVENTAIL_LOG_LEVEL: "debug" },
      },
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
    let base = "";
    while (base === "") {
      base = /"msg":"eventail is serving"/.test(output)
        ? (/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1] ?? "")
        : "";
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no start:\n${output}`);
      await sleep(50);
    }
    const port = Number(new URL(base).port);
    const github = `${base}/sources/default/widgets`;
    const gitlab = `${base}/sources/default/app`;
    const push = JSON.stringify({ ref: "refs/heads/main" });
    const ghHeaders = {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": "d-1",
      authorization: `Bearer ${SECRETS.bearer}`,
    };
    const event = {
      "ce-specversion": "1.0",
      "ce-source": "/leaks",
      "ce-type": "t",
      "content-type": "application/json",
    };
    const bearer = { authorization: `Bearer ${SECRETS.bearer}` };

    // Webhooks: refused, then accepted (the accepted one also fails downstream at the trigger).
    expect(await post(github, push, { ...ghHeaders, "x-hub-signature-256": "sha256=00" })).toBe(
      401,
    );
    expect(
      await post(github, push, {
        ...ghHeaders,
        "x-hub-signature-256": signatureOf("sha256", SECRETS.githubHook, Buffer.from(push)),
      }),
    ).toBe(202);
    const glHeaders = { "content-type": "application/json", "x-gitlab-event": "Push Hook" };
    expect(await post(gitlab, "{}", { ...glHeaders, "x-gitlab-token": "a-wrong-guess" })).toBe(401);
    expect(
      await post(gitlab, "{}", { ...glHeaders, "x-gitlab-token": SECRETS.gitlabToken }),
    ).not.toBe(401);
    // Ingress failures carrying credentials: invalid event, unknown broker, bad method, 431.
    expect(await post(`${base}/default/default`, "{}", { ...event, ...bearer })).toBe(400);
    expect(
      await post(`${base}/default/nowhere`, "{}", {
        ...event,
        "ce-id": "1",
        ...bearer,
        "proxy-authorization": `Basic ${Buffer.from(`u:${SECRETS.proxyAuth}`).toString("base64")}`,
        cookie: `session=${SECRETS.bearer}`,
      }),
    ).toBe(404);
    expect(await tooManyHeaders(port)).toMatch(/^HTTP\/1\.1 431/);
    // An event whose delivery fails twice is kept as a dead letter: logged with the subscriber URL.
    expect(
      await post(`${base}/default/default`, "{}", { ...event, "ce-id": "e-2", ...bearer }),
    ).toBe(202);
    await failing.waitFor(4); // two attempts for each of the two events that reached the broker
    const dropped = Date.now() + 10_000;
    while (
      !/event kept in the dead-letter store[\s\S]*event kept in the dead-letter store/.test(output)
    ) {
      if (Date.now() > dropped) throw new Error(`the drops were never logged:\n${output}`);
      await sleep(50);
    }
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));

    // The run did log the failures: the grep below looks at lines that exist.
    expect(output).toContain('"msg":"request rejected"');
    expect(output).toContain("GitLab delivery refused");
    expect(output).toContain("svc:<redacted>@127.0.0.1");
    for (const [name, value] of Object.entries(SECRETS)) {
      for (const form of forms(value)) {
        expect({ name, form, found: output.includes(form) }).toEqual({ name, form, found: false });
      }
    }
  });
});

/** `eventail token` against the Secret under `dir`: the token it prints. */
async function tokenFrom(dir: string, sub: string, aud: string, issuer: string): Promise<string> {
  const child = spawn(
    process.execPath,
    [EVENTAIL_CLI, "token", "--sub", sub, "--aud", aud, "-f", dir, "--issuer", issuer],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const code = await new Promise((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`eventail token exited ${code}`);
  return out.trim();
}

describe.skipIf(!eventailBuilt())("no token or signing key reaches the logs", () => {
  it("debug-level output of an authenticated run holds neither the tokens it took, nor those it sent, nor its key", async () => {
    const received: string[] = [];
    const subscriber = await startSink((request) => {
      received.push(String(request.headers["authorization"] ?? ""));
      return { status: 202 };
    });
    const failing = await startSink(() => ({ status: 500, body: "no" }));
    sinks.push(subscriber, failing);
    const key = p256Pem();
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-leaks-auth-"));
    writeFileSync(
      path.join(dir, "manifests.yaml"),
      `apiVersion: v1
kind: ConfigMap
metadata: { name: config-features, namespace: knative-eventing }
data:
  authentication-oidc: enabled
---
apiVersion: v1
kind: Secret
metadata: { name: eventail-signing-key }
data:
  key.pem: ${Buffer.from(key).toString("base64")}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: delivered }
spec:
  broker: default
  subscriber: { uri: "${subscriber.url}" }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: failing }
spec:
  broker: default
  subscriber: { uri: "${failing.url}" }
  delivery: { retry: 1, backoffDelay: PT0.01S }
`,
    );
    const child = spawn(
      process.execPath,
      [EVENTAIL_CLI, "run", "-f", dir, "--host", "127.0.0.1", "--port", "0", "--no-watch"],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, EVENTAIL_LOG_LEVEL: "debug" } },
    );
    children.push(child);
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    const deadline = Date.now() + 30_000;
    let base = "";
    while (base === "") {
      base = /"msg":"eventail is serving"/.test(output)
        ? (/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output)?.[1] ?? "")
        : "";
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no start:\n${output}`);
      await sleep(50);
    }
    const broker = `${base}/default/default`;
    const audience = "eventing.knative.dev/broker/default/default";
    const sub = "system:serviceaccount:default:producer";
    const good = await tokenFrom(dir, sub, audience, base);
    const wrongAudience = await tokenFrom(dir, sub, "eventing.knative.dev/broker/x/y", base);
    const event = (id: string) => ({
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/leaks",
      "ce-type": "t",
      "content-type": "application/json",
    });
    expect(await post(broker, "{}", { ...event("a"), authorization: `Bearer ${good}` })).toBe(202);
    expect(
      await post(broker, "{}", { ...event("b"), authorization: `Bearer ${wrongAudience}` }),
    ).toBe(401);
    const tampered = `${good.slice(0, -4)}AAAA`;
    expect(await post(broker, "{}", { ...event("c"), authorization: `Bearer ${tampered}` })).toBe(
      401,
    );
    await subscriber.waitFor(1);
    await failing.waitFor(2);
    const dropped = Date.now() + 10_000;
    while (!/event kept in the dead-letter store/.test(output)) {
      if (Date.now() > dropped) throw new Error(`the drop was never logged:\n${output}`);
      await sleep(50);
    }
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));

    // The deliveries did carry tokens (so there was something to leak), and the refusals were logged.
    expect(received[0]).toMatch(/^Bearer eyJ/);
    expect(output).toContain('"msg":"request rejected"');
    const outbound = received[0]!.slice("Bearer ".length);
    const keyBody = key
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("-----"))
      .join("");
    const leaks: Record<string, string[]> = {
      good: forms(good),
      wrongAudience: [wrongAudience],
      tampered: [tampered],
      signature: [good.split(".")[2]!, outbound.split(".")[2]!],
      outbound: forms(outbound),
      keyBody: [keyBody, keyBody.slice(0, 40), Buffer.from(key).toString("base64").slice(0, 60)],
    };
    for (const [name, values] of Object.entries(leaks)) {
      for (const form of values) {
        expect({ name, form, found: output.includes(form) }).toEqual({ name, form, found: false });
      }
    }
  });
});
