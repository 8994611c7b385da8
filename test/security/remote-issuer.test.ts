import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type JWK, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { AuthenticationError } from "../../src/security/errors.js";
import { RemoteIssuer } from "../../src/security/remote-issuer.js";
import { TokenVerifier } from "../../src/security/token-verifier.js";
import { ManualClock } from "./support.js";

const AUDIENCE = "eventing.knative.dev/broker/default/orders";
const INTERVAL = 30_000;

interface IssuerKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly jwk: JWK;
}

function newKey(kid = randomUUID()): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    kid,
    privateKey,
    jwk: { ...publicKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" },
  };
}

/** A real HTTP issuer serving discovery and its JWK Set, counting every request. */
class FakeIssuerServer {
  keys: IssuerKey[] = [newKey()];
  requests: string[] = [];
  status = 200;
  advertisedIssuer?: string;
  url = "";
  private server = http.createServer((request, response) => {
    this.requests.push(request.url ?? "");
    if (this.status !== 200) {
      response.writeHead(this.status).end();
    } else if (request.url === "/.well-known/openid-configuration") {
      response.end(
        JSON.stringify({ issuer: this.advertisedIssuer ?? this.url, jwks_uri: `${this.url}/keys` }),
      );
    } else if (request.url === "/keys") {
      response.end(JSON.stringify({ keys: this.keys.map((k) => k.jwk) }));
    } else {
      response.writeHead(404).end();
    }
  });

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  token(key: IssuerKey = this.keys[0]!, nowSec: number, kid = key.kid): Promise<string> {
    return new SignJWT({ sub: "system:serviceaccount:default:app" })
      .setProtectedHeader({ alg: "ES256", kid })
      .setIssuer(this.url)
      .setAudience(AUDIENCE)
      .setExpirationTime(nowSec + 600)
      .sign(key.privateKey);
  }
}

const servers: FakeIssuerServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function setUp() {
  const server = await new FakeIssuerServer().start();
  servers.push(server);
  const clock = new ManualClock(Date.now());
  const remote = new RemoteIssuer(server.url, { refetchIntervalMs: INTERVAL, now: clock.now });
  const verifier = new TokenVerifier({ now: clock.now });
  verifier.setIssuers(new Map([[server.url, remote.getKey]]));
  const nowSec = () => Math.floor(clock.ms / 1000);
  return { server, clock, remote, verifier, nowSec };
}

async function refused(promise: unknown): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AuthenticationError);
    return (error as Error).message;
  }
  throw new Error("accepted");
}

describe("an external OIDC issuer", () => {
  it("is found through discovery, and its keys verify its tokens", async () => {
    const { server, verifier, nowSec } = await setUp();
    const verified = await verifier.verify(await server.token(undefined, nowSec()), AUDIENCE);
    expect(verified.iss).toBe(server.url);
    expect(server.requests).toEqual(["/.well-known/openid-configuration", "/keys"]);
  });

  it("is asked again at most once per refetch interval, however many unknown kids arrive", async () => {
    const { server, clock, verifier, nowSec } = await setUp();
    await verifier.verify(await server.token(undefined, nowSec()), AUDIENCE);
    const forged = newKey();
    clock.advance(1_000);
    for (let i = 0; i < 50; i++) {
      await refused(verifier.verify(await server.token(forged, nowSec(), randomUUID()), AUDIENCE));
    }
    expect(server.requests).toHaveLength(2);
    clock.advance(INTERVAL);
    for (let i = 0; i < 50; i++) {
      await refused(verifier.verify(await server.token(forged, nowSec(), randomUUID()), AUDIENCE));
    }
    expect(server.requests).toEqual(["/.well-known/openid-configuration", "/keys", "/keys"]);
  });

  it("picks up a key the issuer rotated in once the interval allows a refetch", async () => {
    const { server, clock, verifier, nowSec } = await setUp();
    await verifier.verify(await server.token(undefined, nowSec()), AUDIENCE);
    const rotated = newKey();
    server.keys.push(rotated);
    clock.advance(INTERVAL);
    const verified = await verifier.verify(await server.token(rotated, nowSec()), AUDIENCE);
    expect(verified.sub).toBe("system:serviceaccount:default:app");
  });

  it("answers 401 while the issuer fails, asking it no more than once per interval", async () => {
    const { server, clock, verifier, nowSec } = await setUp();
    server.status = 503;
    const token = await server.token(undefined, nowSec());
    expect(await refused(verifier.verify(token, AUDIENCE))).toContain("could not be fetched");
    await refused(verifier.verify(token, AUDIENCE));
    expect(server.requests).toHaveLength(1);
    server.status = 200;
    clock.advance(INTERVAL);
    await expect(verifier.verify(token, AUDIENCE)).resolves.toBeDefined();
  });

  it("is not trusted when its discovery document names another issuer", async () => {
    const { server, verifier, nowSec } = await setUp();
    server.advertisedIssuer = "https://impostor.example";
    expect(
      await refused(verifier.verify(await server.token(undefined, nowSec()), AUDIENCE)),
    ).toContain("could not be fetched");
    expect(server.requests).toEqual(["/.well-known/openid-configuration"]);
  });
});
