/**
 * An external OIDC issuer, for real: the `oidc-provider` package serves discovery, its JWKS and a
 * token endpoint; a client gets an access token with the client credentials grant over HTTP and
 * sends an event with it. Nothing here hand-makes a token.
 */
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";
import { tempDir } from "./support.js";

let issuerServer: http.Server;
let issuer = "";
let sink: RecordingSink;
let eventail: Awaited<ReturnType<typeof startWithManifests>>;
let state: ReturnType<typeof tempDir>;

/** Resource indicators (RFC 8707) are URIs: Eventail's address URL, mapped to its audience. */
const audiences = new Map<string, string>();

beforeAll(async () => {
  issuerServer = http.createServer();
  await new Promise<void>((resolve) => issuerServer.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
  const signingKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
    format: "jwk",
  });
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: "orders-app",
        client_secret: "orders-app-secret",
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: "ES256",
      },
    ],
    jwks: { keys: [{ ...signingKey, kid: "provider-key", alg: "ES256", use: "sig" }] },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          const audience = audiences.get(resource);
          if (audience === undefined) throw new Error(`unknown resource ${resource}`);
          return { scope: "", audience, accessTokenFormat: "jwt", jwt: { sign: { alg: "ES256" } } };
        },
      },
    },
  });
  issuerServer.on("request", provider.callback());

  sink = await startSink();
  state = tempDir();
  eventail = await startWithManifests(
    `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
  eventail-oidc-issuers: ${issuer}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: orders}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: billing}
---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventPolicy
metadata: {name: orders-app}
spec:
  to:
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: orders}
    - ref: {apiVersion: eventing.knative.dev/v1, kind: Broker, name: billing}
  from:
    - sub: orders-app
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: all}
spec:
  broker: orders
  subscriber: {uri: "${sink.url}/all"}
`,
    { stateDir: state.dir },
  );
  for (const broker of ["orders", "billing"]) {
    const address = eventail.addressOf("Broker", "default", broker)!;
    audiences.set(address.url, address.audience);
  }
});

afterAll(async () => {
  await eventail?.close();
  await sink?.close();
  await new Promise<void>((resolve) => issuerServer?.close(() => resolve()));
  state?.remove();
});

/** The client credentials grant, over HTTP, as any client of the issuer would do it. */
async function accessToken(resource: string): Promise<string> {
  const response = await request(`${issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from("orders-app:orders-app-secret").toString("base64")}`,
    },
    body: new URLSearchParams({ grant_type: "client_credentials", resource }).toString(),
  });
  const body = (await response.body.json()) as { access_token?: string };
  expect(response.statusCode).toBe(200);
  return body.access_token!;
}

async function send(url: string, id: string, token: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/orders-app",
      "ce-type": "com.shop.order",
      authorization: `Bearer ${token}`,
    },
  });
  await response.body.dump();
  return response.statusCode;
}

describe("a token of an external OIDC issuer (oidc-provider, client credentials)", () => {
  it("is accepted by the address it was issued for (202) and the event is delivered", async () => {
    const url = eventail.addressOf("Broker", "default", "orders")!.url;
    const token = await accessToken(url);
    expect(await send(url, "from-provider-1", token)).toBe(202);
    await sink.waitFor(1);
    expect(sink.events[0]!.attributes["id"]).toBe("from-provider-1");
  });

  it("is refused by another address (401): its audience is the one it was issued for", async () => {
    const token = await accessToken(eventail.addressOf("Broker", "default", "billing")!.url);
    expect(
      await send(eventail.addressOf("Broker", "default", "orders")!.url, "wrong-aud", token),
    ).toBe(401);
  });
});
