/**
 * CONTRACT §10 end to end over real sockets: a whole Eventail with authentication-oidc enabled,
 * tokens from its own issuer, subscribers that verify what deliveries carry with jose against the
 * served JWKS, and EventPolicies deciding who may send what.
 */
import { Writable } from "node:stream";
import fc from "fast-check";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tailCommand } from "../../src/cli/tail.js";
import { createLogger } from "../../src/observability/logger.js";
import { oidcSubject } from "../../src/security/oidc-identity.js";
import { statusBeforeBodyEnds } from "../support/early-answer.js";
import {
  eventually,
  ownToken,
  type RecordingSink,
  startSink,
  startWithManifests,
} from "../support/sink.js";
import { tempDir } from "./support.js";

type Running = Awaited<ReturnType<typeof startWithManifests>>;

const PRODUCER = "system:serviceaccount:default:producer";
const ORDERS_AUDIENCE = "eventing.knative.dev/broker/default/orders";

const features = (mode = "allow-same-namespace") => `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
  default-authorization-mode: ${mode}
`;

function manifests(sinkUrl: string): string {
  return `${features()}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: orders}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: replies}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: orders-policy}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: orders}
  from:
    - sub: ${PRODUCER}
    - sub: "system:serviceaccount:partner:*"
  filters:
    - prefix: {type: com.shop.}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: shipping}
spec:
  broker: orders
  filter: {attributes: {type: com.shop.order}}
  subscriber: {uri: "${sinkUrl}/shipping"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: refunds}
spec:
  broker: orders
  filter: {attributes: {type: com.shop.refund}}
  subscriber: {uri: "${sinkUrl}/refunds"}
  delivery:
    retry: 0
    deadLetterSink: {uri: "${sinkUrl}/dead-letters", audience: "https://dead-letters.example"}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: to-channel}
spec:
  broker: orders
  filter: {attributes: {type: com.shop.audit}}
  subscriber: {ref: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: audit}}
---
apiVersion: messaging.knative.dev/v1
kind: InMemoryChannel
metadata: {name: audit}
---
apiVersion: messaging.knative.dev/v1
kind: Subscription
metadata: {name: audit-log}
spec:
  channel: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel, name: audit}
  subscriber: {uri: "${sinkUrl}/audit"}
  reply: {ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: replies}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: replies-out}
spec:
  broker: replies
  subscriber: {uri: "${sinkUrl}/replies"}
---
apiVersion: sinks.knative.dev/v1alpha1
kind: IntegrationSink
metadata: {name: log}
spec: {log: {}}
`;
}

let sink: RecordingSink;
let eventail: Running;
let state: ReturnType<typeof tempDir>;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  sink = await startSink();
  // The audit subscriber answers with a reply event, which goes on to the replies broker.
  sink.respondWith((received) => {
    if (received.event?.attributes["type"] === "com.shop.refund") return { status: 400 };
    if (received.event?.attributes["type"] === "com.shop.audit") {
      return {
        status: 200,
        headers: {
          "ce-specversion": "1.0",
          "ce-id": "reply-1",
          "ce-source": "/audit",
          "ce-type": "com.shop.audited",
        },
      };
    }
    return { status: 202 };
  });
  state = tempDir();
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) logLines.push(JSON.parse(line));
      done();
    },
  });
  eventail = await startWithManifests(manifests(sink.url), {
    stateDir: state.dir,
    logger: createLogger({ level: "info", destination }),
  });
});

afterAll(async () => {
  await eventail?.close();
  await sink?.close();
  state?.remove();
});

function token(sub: string, aud = ORDERS_AUDIENCE, ttlSec = 300): string {
  return ownToken(eventail, sub, aud, ttlSec);
}

async function post(path: string, type: string, id: string, bearer?: string) {
  const response = await request(`${eventail.url}${path}`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": type,
      "content-type": "application/json",
      ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }),
    },
    body: '{"n":1}',
  });
  const text = await response.body.text();
  return {
    status: response.statusCode,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

async function deliveryTo(id: string) {
  await eventually(
    () => sink.requests.some((r) => r.event?.attributes["id"] === id),
    10_000,
    `delivery of ${id}`,
  );
  return sink.requests.find((r) => r.event?.attributes["id"] === id)!;
}

async function verifyDeliveryToken(authorization: string | string[] | undefined, audience: string) {
  expect(typeof authorization).toBe("string");
  const jwks = createRemoteJWKSet(new URL(`${eventail.url}/.well-known/jwks.json`));
  const { payload } = await jwtVerify((authorization as string).replace(/^Bearer /, ""), jwks, {
    issuer: eventail.url,
    audience,
  });
  return payload;
}

describe("ingress with authentication-oidc enabled", () => {
  it("answers 401 with WWW-Authenticate: Bearer to a request without a token", async () => {
    const answer = await post("/default/orders", "com.shop.order", "no-token");
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe("Bearer");
    expect(answer.body.code).toBe("UNAUTHENTICATED");
  });

  it.each([
    ["a token that is not a JWT", () => "not-a-jwt"],
    [
      "a token for another address",
      () => token(PRODUCER, "eventing.knative.dev/broker/default/replies"),
    ],
    ["an expired token", () => token(PRODUCER, ORDERS_AUDIENCE, -60)],
  ])('answers 401 with error="invalid_token" to %s', async (_name, make) => {
    const answer = await post("/default/orders", "com.shop.order", "bad-token", make());
    expect(answer.status).toBe(401);
    expect(answer.headers["www-authenticate"]).toBe('Bearer error="invalid_token"');
  });

  it("answers junk in the Authorization header with 401, never anything else (fuzz over HTTP)", async () => {
    const visible = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 120,
    });
    const header = fc.oneof(
      visible,
      visible.map((v) => `Bearer ${v}`),
      fc
        .tuple(visible, visible, visible)
        .map(([a, b, c]) => `Bearer ${a}.${b}.${c}`.replace(/\s/g, "")),
      fc
        .json()
        .map(
          (j) =>
            `Bearer ${Buffer.from(j).toString("base64url")}.${Buffer.from(j).toString("base64url")}.sig`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(header, async (authorization) => {
        const response = await request(`${eventail.url}/default/orders`, {
          method: "POST",
          headers: {
            "ce-specversion": "1.0",
            "ce-id": "fuzz",
            "ce-source": "/f",
            "ce-type": "com.shop.order",
            authorization,
          },
        });
        await response.body.dump();
        expect(response.statusCode).toBe(401);
        expect(String(response.headers["www-authenticate"])).toMatch(/^Bearer/);
      }),
      { numRuns: 300 },
    );
  });

  it("accepts an event from a sender the EventPolicy allows (202), and delivers it", async () => {
    const answer = await post("/default/orders", "com.shop.order", "allowed-1", token(PRODUCER));
    expect(answer.status).toBe(202);
    await deliveryTo("allowed-1");
  });

  it("refuses a sender of another namespace (403), logging its sub and the event id", async () => {
    const answer = await post(
      "/default/orders",
      "com.shop.order",
      "stranger-1",
      token("system:serviceaccount:other:app"),
    );
    expect(answer.status).toBe(403);
    expect(answer.body.code).toBe("FORBIDDEN");
    const line = logLines.find((l) => l["id"] === "stranger-1");
    expect(line).toMatchObject({
      code: "FORBIDDEN",
      sub: "system:serviceaccount:other:app",
      id: "stranger-1",
    });
  });

  it("lets in a sender matching a sub pattern", async () => {
    const answer = await post(
      "/default/orders",
      "com.shop.order",
      "partner-1",
      token("system:serviceaccount:partner:crm"),
    );
    expect(answer.status).toBe(202);
  });

  it("refuses an allowed sender's event that fails the policy's filters (403)", async () => {
    const answer = await post("/default/orders", "com.bank.wire", "filtered-1", token(PRODUCER));
    expect(answer.status).toBe(403);
  });

  it("ends a tail when the token that opened it expires, and eventail tail says so", async () => {
    const chunks: string[] = [];
    const capture = new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk));
        done();
      },
    });
    // Expires within 2 s: the stream must end by itself (it never does while a token is valid).
    const code = await tailCommand(
      { server: eventail.url, token: token(PRODUCER, "eventail:api", 2) },
      new Writable({ write: (_chunk, _encoding, done) => done() }),
      capture,
    );
    expect(code).toBe(1);
    expect(chunks.join("")).toContain("the token expired");
  });

  it("answers a sink request without a token, or to no sink, before reading its body", async () => {
    // The body never ends: only an answer given before reading it all can arrive.
    expect(await statusBeforeBodyEnds(`${eventail.url}/sinks/default/log`)).toBe(401);
    expect(await statusBeforeBodyEnds(`${eventail.url}/sinks/default/nosuch`)).toBe(404);
  });

  it("guards an IntegrationSink like any address", async () => {
    expect((await post("/sinks/default/log", "x", "sink-1")).status).toBe(401);
    const audience = "sinks.knative.dev/integrationsink/default/log";
    expect(
      (await post("/sinks/default/log", "x", "sink-2", token(PRODUCER, audience))).status,
    ).toBe(202);
    expect(
      (
        await post(
          "/sinks/default/log",
          "x",
          "sink-3",
          token("system:serviceaccount:other:x", audience),
        )
      ).status,
    ).toBe(403);
  });
});

describe("deliveries with authentication-oidc enabled", () => {
  it("carry a token of Eventail's issuer for the trigger, for the subscriber's URL", async () => {
    await post("/default/orders", "com.shop.order", "outbound-1", token(PRODUCER));
    const delivery = await deliveryTo("outbound-1");
    const payload = await verifyDeliveryToken(
      delivery.headers.authorization,
      `${sink.url}/shipping`,
    );
    expect(payload.sub).toBe(
      "system:serviceaccount:default:shipping-oidc-eventing.knative.dev-trigger",
    );
    expect(payload.sub).toBe(oidcSubject("eventing.knative.dev", "Trigger", "default", "shipping"));
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it("carry the trigger's token to its dead-letter sink, for the audience the destination names", async () => {
    await post("/default/orders", "com.shop.refund", "refund-1", token(PRODUCER));
    await eventually(
      () => sink.requests.filter((r) => r.event?.attributes["id"] === "refund-1").length >= 2,
    );
    const dead = sink.requests.filter((r) => r.event?.attributes["id"] === "refund-1")[1]!;
    expect(dead.event?.attributes["knativeerrorcode"]).toBe("400");
    const payload = await verifyDeliveryToken(
      dead.headers.authorization,
      "https://dead-letters.example",
    );
    expect(payload.sub).toBe(oidcSubject("eventing.knative.dev", "Trigger", "default", "refunds"));
  });

  it("authenticate to Eventail's own addresses: trigger → channel → subscription → reply into a broker", async () => {
    await post("/default/orders", "com.shop.audit", "audit-1", token(PRODUCER));
    await deliveryTo("audit-1");
    const reply = await deliveryTo("reply-1");
    const payload = await verifyDeliveryToken(reply.headers.authorization, `${sink.url}/replies`);
    expect(payload.sub).toBe(
      oidcSubject("eventing.knative.dev", "Trigger", "default", "replies-out"),
    );
    expect(
      logLines.filter(
        (l) => l["code"] === "UNAUTHENTICATED" && String(l["url"]).includes("channels"),
      ),
    ).toEqual([]);
  });
});

describe("Eventail's issuer", () => {
  it("serves discovery and a JWKS holding the key it signs with", async () => {
    const discovery = await (
      await request(`${eventail.url}/.well-known/openid-configuration`)
    ).body.json();
    expect(discovery).toMatchObject({
      issuer: eventail.url,
      jwks_uri: `${eventail.url}/.well-known/jwks.json`,
    });
    const jwks = (await (await request(`${eventail.url}/.well-known/jwks.json`)).body.json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((k) => k.kid)).toEqual([eventail.security.keyRing.current()!.kid]);
  });

  it("shows each address's audience in the status model", () => {
    expect(eventail.addressOf("Broker", "default", "orders")).toEqual({
      url: `${eventail.url}/default/orders`,
      audience: ORDERS_AUDIENCE,
    });
    expect(eventail.addressOf("InMemoryChannel", "default", "audit")?.audience).toBe(
      "messaging.knative.dev/inmemorychannel/default/audit",
    );
  });
});
