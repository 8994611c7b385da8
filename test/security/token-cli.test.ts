/** `eventail token`, `eventail send --token` and a served state dir, through the built CLI. */
import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { secretKeys } from "../../src/security/key-store.js";
import {
  EVENTAIL_CLI,
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { p256Pem, secret, tempDir } from "./support.js";

const cleanups: Array<() => void> = [];
afterEach(async () => {
  await stopEventailProcesses();
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function cli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [EVENTAIL_CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function scratch() {
  const made = tempDir();
  cleanups.push(made.remove);
  return made.dir;
}

const AUDIENCE = "eventing.knative.dev/broker/default/orders";
const MANIFESTS = `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data: {authentication-oidc: enabled}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: orders}
`;

describe.skipIf(!eventailBuilt())("eventail token", () => {
  it("fails with exit 2 when there is no key anywhere, and creates none", async () => {
    const state = path.join(scratch(), "state");
    const result = await cli(["token", "--sub", "me", "--aud", AUDIENCE], {
      EVENTAIL_STATE_DIR: state,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no signing key");
    expect(existsSync(state)).toBe(false);
  });

  it.each([
    ["a --ttl that is no duration", ["--ttl", "1h"], "--ttl"],
    ["a --claim the command sets itself", ["--claim", "sub=root"], "--claim sub"],
    ["a --claim without =", ["--claim", "role"], "key=value"],
  ])("refuses %s (exit 2)", async (_name, extra, message) => {
    const dir = scratch();
    const manifests = path.join(dir, "secret.yaml");
    writeFileSync(manifests, secretYaml(p256Pem()));
    const result = await cli(
      ["token", "--sub", "me", "--aud", AUDIENCE, "-f", manifests, ...extra],
      {
        EVENTAIL_STATE_DIR: path.join(dir, "state"),
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("signs with the Secret under -f, with the claims and lifetime asked for", async () => {
    const dir = scratch();
    const pem = p256Pem();
    const manifests = path.join(dir, "secret.yaml");
    writeFileSync(manifests, secretYaml(pem));
    const result = await cli(
      [
        "token",
        "--sub",
        "ops",
        "--aud",
        "eventail:api",
        "--ttl",
        "PT5M",
        "--claim",
        "eventail.io/role=admin",
        "-f",
        manifests,
        "--issuer",
        "https://events.example",
      ],
      { EVENTAIL_STATE_DIR: path.join(dir, "state") },
    );
    expect(result.code).toBe(0);
    const token = result.stdout.trim();
    const [key] = secretKeys(secret("eventail-signing-key", { stringData: { "k.pem": pem } }));
    expect(decodeProtectedHeader(token)).toEqual({ alg: "ES256", typ: "JWT", kid: key!.kid });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: "https://events.example",
      sub: "ops",
      aud: "eventail:api",
      "eventail.io/role": "admin",
    });
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it("signs with the key a server generated in the state dir, which that server accepts", async () => {
    const dir = scratch();
    const manifests = path.join(dir, "m.yaml");
    writeFileSync(manifests, MANIFESTS);
    const env = { EVENTAIL_STATE_DIR: path.join(dir, "state") };
    const server = await EventailProcess.start("auth", { manifests: [manifests], env });
    const url = `${server.url}/default/orders`;
    const refused = await cli(["send", url, "--type", "t", "--source", "s"], env);
    expect(refused.stdout).toContain("401");
    const token = await cli(
      ["token", "--sub", "system:serviceaccount:default:cli", "--aud", AUDIENCE],
      env,
    );
    expect(token.code).toBe(0);
    expect(decodeJwt(token.stdout.trim()).iss).toBe(server.url);
    const sent = await cli(
      ["send", url, "--type", "t", "--source", "s", "--token", token.stdout.trim()],
      env,
    );
    expect(sent.stdout.trim()).toBe("202");
    expect(sent.code).toBe(0);
  });
});

function secretYaml(pem: string): string {
  const body = pem
    .trim()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
  return `apiVersion: v1
kind: Secret
metadata: {name: eventail-signing-key}
stringData:
  k.pem: |
${body}
`;
}
