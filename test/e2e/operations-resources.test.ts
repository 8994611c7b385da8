/**
 * The operations API's resources (CONTRACT §11) and the CLI verbs over it (§1), against real
 * servers: in-process over HTTP, and `eventail run` processes driven by the built CLI, with
 * authentication off and on (§10: a token for `eventail:api`).
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { knownKinds } from "../../src/resources/schema.js";
import { kindNamed } from "../../src/server/api-resources.js";
import { tempDir } from "../security/support.js";
import {
  EVENTAIL_CLI,
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { brokerYaml, startWithManifests, triggerYaml } from "../support/sink.js";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  await stopEventailProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const SECRET = `---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
stringData: {password: hunter2-plain}
data: {token: c2VjcmV0LXRva2Vu}
`;
const MANIFESTS = `${brokerYaml()}${triggerYaml("orders", "http://127.0.0.1:1/hook")}${SECRET}---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: other, namespace: team-b}
`;

async function getJson(url: string, token?: string) {
  const response = await request(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    body: (await response.body.json()) as Record<string, unknown>,
  };
}

function cli(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [EVENTAIL_CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, EVENTAIL_SERVER: "", EVENTAIL_TOKEN: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function scratch(): string {
  const made = tempDir("eventail-ops-");
  cleanups.push(made.remove);
  return made.dir;
}

describe("GET /api/v1/resources", () => {
  it("lists every resource with its status, filters by kind (any case, plural) and namespace", async () => {
    const running = await startWithManifests(MANIFESTS);
    cleanups.push(() => running.close());
    const all = await getJson(`${running.url}/api/v1/resources`);
    expect(all.status).toBe(200);
    const items = all.body["items"] as Array<{ kind: string; metadata: { name: string } }>;
    expect(items.map((i) => `${i.kind}/${i.metadata.name}`).sort()).toEqual(
      ["Broker/default", "Broker/other", "Secret/creds", "Trigger/orders"].sort(),
    );
    for (const kind of ["brokers", "Broker", "BROKER"]) {
      const some = await getJson(`${running.url}/api/v1/resources?kind=${kind}&namespace=team-b`);
      expect(
        (some.body["items"] as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name),
      ).toEqual(["other"]);
    }
    const trigger = await getJson(`${running.url}/api/v1/resources/triggers/default/orders`);
    expect(trigger.status).toBe(200);
    expect(trigger.body).toMatchObject({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: "orders", namespace: "default" },
      spec: { broker: "default" },
      status: {
        observedGeneration: 1,
        subscriberUri: "http://127.0.0.1:1/hook",
        conditions: expect.arrayContaining([
          { type: "Ready", status: "True", lastTransitionTime: expect.any(String) },
        ]),
      },
    });
  });

  it("shows Secret data and stringData as <redacted>, never their values", async () => {
    const running = await startWithManifests(MANIFESTS);
    cleanups.push(() => running.close());
    const answer = await request(`${running.url}/api/v1/resources/secret/default/creds`);
    const text = await answer.body.text();
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(text)).toMatchObject({
      data: { token: "<redacted>" },
      stringData: { password: "<redacted>" },
    });
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("c2VjcmV0LXRva2Vu");
  });

  it.each([
    ["an unknown name", "/resources/broker/default/nope", "Broker default/nope does not exist"],
    ["an unknown kind", "/resources/gadgets/default/x", "no kind of resource is named gadgets"],
    [
      "an unknown kind in a list",
      "/resources?kind=gadgets",
      "no kind of resource is named gadgets",
    ],
  ])("answers 404 in the error shape for %s", async (_name, suffix, message) => {
    const running = await startWithManifests(MANIFESTS);
    cleanups.push(() => running.close());
    const answer = await getJson(`${running.url}/api/v1${suffix}`);
    expect(answer.status).toBe(404);
    expect(answer.body).toEqual({ error: message, code: "NOT_FOUND" });
  });
});

describe("kindNamed (kinds from the URL)", () => {
  it("maps every case and the plural of every known kind to it, and never throws", () => {
    const kinds = [...knownKinds().values()];
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.boolean(), fc.boolean(), (info, plural, upper) => {
        const word = plural ? info.plural : info.kind;
        expect(kindNamed(upper ? word.toUpperCase() : word.toLowerCase())).toBe(info.kind);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        const kind = kindNamed(text);
        expect(kind === undefined || knownKinds().has(kind)).toBe(true);
      }),
    );
  });
});

describe.skipIf(!eventailBuilt())("eventail get and describe against eventail run", () => {
  it("prints a table within 80 columns, yaml, json, and a description with conditions", async () => {
    const dir = scratch();
    const file = path.join(dir, "m.yaml");
    writeFileSync(file, MANIFESTS);
    const server = await EventailProcess.start("ops", { manifests: [file] });
    const env = { EVENTAIL_SERVER: server.url };
    const table = await cli(["get", "triggers"], env);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+BROKER\s+SUBSCRIBER\s+AGE\s+READY\s+REASON$/);
    expect(lines[1]).toMatch(
      /^orders\s+default\s+http:\/\/127\.0\.0\.1:1\/hook\s+\d+[smhd]\s+True$/,
    );
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);

    const allNamespaces = await cli(["get", "Brokers", "-A", "--server", server.url]);
    expect(allNamespaces.stdout).toMatch(/^NAMESPACE\s+NAME\s+URL/);
    expect(allNamespaces.stdout).toContain(`team-b     other    ${server.url}/team-b/other`);

    const json = await cli(["get", "trigger", "orders", "-o", "json"], env);
    expect(JSON.parse(json.stdout)).toMatchObject({
      kind: "Trigger",
      status: { subscriberUri: "http://127.0.0.1:1/hook" },
    });
    const yaml = await cli(["get", "secrets", "-o", "yaml"], env);
    expect(yaml.stdout).toContain("password: <redacted>");
    expect(yaml.stdout).not.toContain("hunter2");

    const described = await cli(["describe", "broker", "other", "-n", "team-b"], env);
    expect(described.code).toBe(0);
    expect(described.stdout).toContain(`Address:      ${server.url}/team-b/other`);
    expect(described.stdout).toContain("Audience:     eventing.knative.dev/broker/team-b/other");
    expect(described.stdout).toMatch(/\+\+ Ready\s+\d+[smhd]/);
    expect(described.stdout).toMatch(/\+\+ IngressReady/);

    const missing = await cli(["describe", "trigger", "nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("eventail describe: Trigger default/nope does not exist\n");
  });

  it("says the server cannot be reached, exit 1, and refuses a bad -o with exit 2", async () => {
    const unreachable = await cli(["get", "brokers", "--server", "http://127.0.0.1:1"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("cannot reach the server at http://127.0.0.1:1");
    const badOutput = await cli(["get", "brokers", "-o", "xml"]);
    expect(badOutput.code).toBe(2);
    expect(badOutput.stderr).toContain("-o must be one of table, yaml, json");
  });

  it("with authentication on: 401 without a token or with another audience, 200 with an eventail:api token", async () => {
    const dir = scratch();
    const file = path.join(dir, "m.yaml");
    writeFileSync(
      file,
      `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data: {authentication-oidc: enabled}
---
${MANIFESTS}`,
    );
    const state = { EVENTAIL_STATE_DIR: path.join(dir, "state") };
    const server = await EventailProcess.start("ops-auth", { manifests: [file], env: state });
    const url = `${server.url}/api/v1/resources`;
    const token = async (aud: string) => {
      const made = await cli(["token", "--sub", "ops", "--aud", aud], state);
      expect(made.code).toBe(0);
      return made.stdout.trim();
    };

    const bare = await getJson(url);
    expect(bare.status).toBe(401);
    expect(bare.headers["www-authenticate"]).toBe("Bearer");
    expect(bare.body["code"]).toBe("UNAUTHENTICATED");
    const wrongAudience = await getJson(
      url,
      await token("eventing.knative.dev/broker/default/default"),
    );
    expect(wrongAudience.status).toBe(401);
    const apiToken = await token("eventail:api");
    const allowed = await getJson(url, apiToken);
    expect(allowed.status).toBe(200);
    expect((allowed.body["items"] as unknown[]).length).toBeGreaterThan(0);

    const refused = await cli(["get", "brokers", "--server", server.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("--token");
    const viaCli = await cli(["get", "brokers"], {
      EVENTAIL_SERVER: server.url,
      EVENTAIL_TOKEN: apiToken,
    });
    expect(viaCli.code).toBe(0);
    expect(viaCli.stdout).toMatch(/^default\s+/m);
  });
});
