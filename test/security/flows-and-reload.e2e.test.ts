/**
 * Authentication across a Sequence's internal channels, hot reload of config-features, and
 * --public-url, over real sockets.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  eventually,
  ownToken,
  type RecordingSink,
  startSink,
  startWithManifests,
} from "../support/sink.js";
import { p256Pem, tempDir } from "./support.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const PRODUCER = "system:serviceaccount:default:producer";
const FEATURES = `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data: {authentication-oidc: enabled}
`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(yaml: string, options: { publicUrl?: string } = {}): Promise<Running> {
  const state = tempDir();
  cleanups.push(state.remove);
  const running = await startWithManifests(yaml, { stateDir: state.dir, ...options });
  cleanups.push(() => running.close());
  return running;
}

async function sinkReplying(): Promise<RecordingSink> {
  // Step n answers an event of type tN with one of type tN+1; t2 is the end of the line.
  const sink = await startSink((received) => {
    const type = String(received.event?.attributes["type"] ?? "");
    const step = /^t(\d)$/.exec(type);
    if (!step || step[1] === "2") return { status: 202 };
    const next = Number(step[1]) + 1;
    return {
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": `${received.event!.attributes["id"]}-${next}`,
        "ce-source": "/step",
        "ce-type": `t${next}`,
      },
    };
  });
  cleanups.push(() => sink.close());
  return sink;
}

function token(running: Running, sub: string, aud: string): string {
  return ownToken(running, sub, aud);
}

async function post(running: Running, path: string, type: string, id: string, bearer?: string) {
  const response = await request(`${running.url}${path}`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": type,
      ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
    },
  });
  await response.body.dump();
  return response.statusCode;
}

describe("a Sequence with authentication on", () => {
  const sequence = (sinkUrl: string) => `${FEATURES}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: only-producer}
spec:
  from:
    - sub: ${PRODUCER}
---
apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: pipeline}
spec:
  steps:
    - uri: ${sinkUrl}/step-0
    - uri: ${sinkUrl}/step-1
  reply: {uri: "${sinkUrl}/done"}
`;

  it("passes events through its own channels even where a policy admits only the producer", async () => {
    const sink = await sinkReplying();
    const running = await start(sequence(sink.url));
    const audience = "flows.knative.dev/sequence/default/pipeline";
    expect(running.addressOf("Sequence", "default", "pipeline")?.audience).toBe(audience);
    expect(
      await post(
        running,
        "/flows/default/sequences/pipeline",
        "t0",
        "e",
        token(running, PRODUCER, audience),
      ),
    ).toBe(202);
    await eventually(
      () => sink.events.some((e) => e.attributes["type"] === "t2"),
      10_000,
      "the reply of the last step",
    );
    expect(sink.events.map((e) => e.attributes["type"])).toEqual(["t0", "t1", "t2"]);
  });

  it("keeps the user's policy on its internal channels for anyone else", async () => {
    const sink = await sinkReplying();
    const running = await start(sequence(sink.url));
    const channel = "messaging.knative.dev/inmemorychannel/default/pipeline-kn-sequence-1";
    expect(
      running.addressOf("InMemoryChannel", "default", "pipeline-kn-sequence-1")?.audience,
    ).toBe(channel);
    const path = "/channels/default/pipeline-kn-sequence-1";
    expect(
      await post(
        running,
        path,
        "t1",
        "a",
        token(running, "system:serviceaccount:default:other", channel),
      ),
    ).toBe(403);
    expect(await post(running, path, "t1", "b", token(running, PRODUCER, channel))).toBe(202);
  });
});

describe("config-features on reload", () => {
  it("turns authentication on and off without a restart", async () => {
    const broker = "apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n";
    const running = await start(broker);
    expect(await post(running, "/default/b", "x", "1")).toBe(202);
    writeFileSync(running.file, `${FEATURES}---\n${broker}`);
    expect(await running.reload()).toEqual([]);
    expect(await post(running, "/default/b", "x", "2")).toBe(401);
    const audience = "eventing.knative.dev/broker/default/b";
    expect(await post(running, "/default/b", "x", "3", token(running, PRODUCER, audience))).toBe(
      202,
    );
    writeFileSync(running.file, broker);
    await running.reload();
    expect(await post(running, "/default/b", "x", "4")).toBe(202);
  });
});

describe("a key added to the state dir", () => {
  it("is published on the next reload (SIGHUP), beside the key that keeps signing", async () => {
    const state = tempDir();
    cleanups.push(state.remove);
    const running = await startWithManifests(
      `${FEATURES}---\napiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: b}\n`,
      {
        stateDir: state.dir,
      },
    );
    cleanups.push(() => running.close());
    const jwks = async () =>
      (
        (await (await request(`${running.url}/.well-known/jwks.json`)).body.json()) as {
          keys: { kid: string }[];
        }
      ).keys.map((k) => k.kid);
    const [first] = await jwks();
    const newer = path.join(state.dir, "signing-keys", "key-99991231T000000Z.pem");
    writeFileSync(newer, p256Pem(), { mode: 0o600 });
    await running.reload();
    const kids = await jwks();
    expect(kids).toHaveLength(2);
    expect(kids[0]).toBe(first);
    expect(running.security.keyRing.current()!.kid).toBe(first);
  });
});

describe("--public-url", () => {
  it("is the issuer of Eventail's tokens and the base of addresses in status", async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const publicUrl = "https://events.example.com";
    const running = await start(
      `${FEATURES}---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: b}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: t}
spec:
  broker: b
  subscriber: {uri: "${sink.url}/t"}
`,
      { publicUrl },
    );
    expect(running.addressOf("Broker", "default", "b")?.url).toBe(`${publicUrl}/default/b`);
    const discovery = (await (
      await request(`${running.url}/.well-known/openid-configuration`)
    ).body.json()) as Record<string, string>;
    expect(discovery["issuer"]).toBe(publicUrl);
    expect(discovery["jwks_uri"]).toBe(`${publicUrl}/.well-known/jwks.json`);
    const audience = "eventing.knative.dev/broker/default/b";
    expect(await post(running, "/default/b", "x", "p1", token(running, PRODUCER, audience))).toBe(
      202,
    );
    await sink.waitFor(1);
    const jwks = createRemoteJWKSet(new URL(`${running.url}/.well-known/jwks.json`));
    const bearer = String(sink.requests[0]!.headers.authorization).replace(/^Bearer /, "");
    const { payload } = await jwtVerify(bearer, jwks, {
      issuer: publicUrl,
      audience: `${sink.url}/t`,
    });
    expect(payload.sub).toBe("system:serviceaccount:default:t-oidc-eventing.knative.dev-trigger");
  });
});
