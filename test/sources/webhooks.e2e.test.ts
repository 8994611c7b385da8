import { randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { signatureOf } from "../../src/sources/github/signature.js";
import { statusBeforeBodyEnds } from "../support/early-answer.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";
import { post } from "./harness.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

async function eventail(yaml: string) {
  const running = await startWithManifests(yaml);
  cleanups.push(() => running.close());
  return running;
}

/** A GitHubSource `widgets` (secret `hook-secret`) into the default Broker, with its Secret. */
const GITHUB_WIDGETS = `---
apiVersion: v1
kind: Secret
metadata:
  name: github-secret
stringData:
  secretToken: hook-secret
---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata:
  name: widgets
spec:
  ownerAndRepository: acme/widgets
  eventTypes: [push]
  secretToken:
    secretKeyRef: { name: github-secret, key: secretToken }
  sink:
    ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default }
`;

describe("webhook sources started from manifests (eventail run)", () => {
  it("GitHubSource → Broker → Trigger: a signed push reaches the subscriber, an unsigned one does not", async () => {
    const subscriber = await sink();
    const running = await eventail(
      `${brokerYaml()}${GITHUB_WIDGETS}${triggerYaml("pushes", subscriber.url, "  filter:\n    attributes:\n      type: dev.knative.source.github.push")}`,
    );
    const url = `${running.url}/sources/default/widgets`;
    const body = JSON.stringify({
      ref: "refs/heads/main",
      compare: "https://github.com/acme/widgets/compare/a...b",
    });
    const delivery = randomUUID();
    const headers = {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": delivery,
    };
    const unsigned = await post(url, body, headers);
    expect(unsigned.status).toBe(401);
    const signed = await post(url, body, {
      ...headers,
      "x-hub-signature-256": signatureOf("sha256", "hook-secret", Buffer.from(body)),
    });
    expect(signed.status).toBe(202);
    await subscriber.waitFor(1);
    expect(subscriber.events[0]?.attributes).toMatchObject({
      id: delivery,
      type: "dev.knative.source.github.push",
      source: "https://github.com/acme/widgets",
      subject: "a...b",
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(subscriber.requests).toHaveLength(1);
    const missing = await post(`${running.url}/sources/default/nothing-here`, body, headers);
    expect(missing.status).toBe(404);
  });

  it("GitLabSource (token from a Secret's base64 data) → its sink URI", async () => {
    const subscriber = await sink();
    const running = await eventail(`apiVersion: v1
kind: Secret
metadata:
  name: gitlab-secret
data:
  token: ${Buffer.from("gl-token").toString("base64")}
---
apiVersion: eventail.io/v1alpha1
kind: GitLabSource
metadata:
  name: app
spec:
  projectUrl: https://gitlab.example.com/group/app
  secretToken:
    secretKeyRef: { name: gitlab-secret, key: token }
  sink:
    uri: ${subscriber.url}
`);
    const url = `${running.url}/sources/default/app`;
    const refused = await post(url, "{}", {
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": "guess",
    });
    expect(refused.status).toBe(401);
    const accepted = await post(url, '{"object_kind":"push"}', {
      "content-type": "application/json",
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": "gl-token",
    });
    expect(accepted.status).toBe(202);
    expect(subscriber.events.map((e) => [e.attributes["type"], e.attributes["source"]])).toEqual([
      ["dev.knative.sources.gitlab.push", "https://gitlab.example.com/group/app"],
    ]);
  });

  it("a Secret holding an empty token refuses everything, as a missing one does (GitHub and GitLab)", async () => {
    const subscriber = await sink();
    const running = await eventail(`apiVersion: v1
kind: Secret
metadata:
  name: blank
stringData:
  token: ""
---
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata:
  name: gh
spec:
  ownerAndRepository: acme/widgets
  secretToken:
    secretKeyRef: { name: blank, key: token }
  sink:
    uri: ${subscriber.url}
---
apiVersion: eventail.io/v1alpha1
kind: GitLabSource
metadata:
  name: gl
spec:
  secretToken:
    secretKeyRef: { name: blank, key: token }
  sink:
    uri: ${subscriber.url}
`);
    const body = '{"object_kind":"push","ref":"refs/heads/main"}';
    // What a forger can send when the key is "": an HMAC keyed with it, an empty token.
    const github = await post(`${running.url}/sources/default/gh`, body, {
      "content-type": "application/json",
      "x-github-event": "push",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": signatureOf("sha256", "", Buffer.from(body)),
    });
    const gitlab = await post(`${running.url}/sources/default/gl`, body, {
      "content-type": "application/json",
      "x-gitlab-event": "Push Hook",
      "x-gitlab-token": "",
    });
    expect([github.status, gitlab.status]).toEqual([401, 401]);
    expect(String(github.body?.["error"])).toContain("Secret default/blank is empty");
    expect(String(gitlab.body?.["error"])).toContain("Secret default/blank is empty");
    expect(subscriber.requests).toHaveLength(0);
  });

  it("ContainerSource: its command, run in workingDir, posts to the Broker it names as sink", async () => {
    const subscriber = await sink();
    const scripts = mkdtempSync(path.join(tmpdir(), "eventail-emitter-"));
    writeFileSync(
      path.join(scripts, "emit.mjs"),
      `await fetch(process.env.K_SINK, { method: "POST", headers: { "ce-specversion": "1.0", "ce-id": String(process.pid),
        "ce-source": "/emit", "ce-type": "dev.example.emitted" } });
setInterval(() => {}, 1 << 30);`,
    );
    await eventail(`${brokerYaml()}---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: once
spec:
  template:
    spec:
      containers:
        - name: emitter
          command: ["${process.execPath}", "emit.mjs"]
          workingDir: ${scripts}
  sink:
    ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: default }
${triggerYaml("all", subscriber.url)}`);
    await eventually(() => subscriber.events.length >= 1, 15_000, "the emitted event");
    expect(subscriber.events[0]?.attributes["type"]).toBe("dev.example.emitted");
  });

  it("answers before reading a body: no such source 404, a declared length over the source's limit or the server's 413", async () => {
    const running = await eventail(`${brokerYaml()}${GITHUB_WIDGETS}`);
    // Each body never ends: only an answer given before reading it all can arrive.
    expect(await statusBeforeBodyEnds(`${running.url}/sources/default/nosuch`)).toBe(404);
    const overSource = String(26 * 1024 * 1024);
    expect(
      await statusBeforeBodyEnds(`${running.url}/sources/default/widgets`, {
        "content-length": overSource,
      }),
    ).toBe(413);
    // A path nothing serves: the server's own limit (1 MiB) holds before the 404.
    expect(
      await statusBeforeBodyEnds(`${running.url}/x/y/z`, { "content-length": String(2 << 20) }),
    ).toBe(413);
  });
});
