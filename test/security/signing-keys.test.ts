import { generateKeyPairSync } from "node:crypto";
import { statSync } from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { ensureStateKeys, readStateKeys, secretKeys } from "../../src/security/key-store.js";
import { KeyRing, loadSigningKey, SigningKeyError } from "../../src/security/signing-keys.js";
import { ManualClock, p256Pem, secret, signingKey, tempDir } from "./support.js";

const MINUTE = 60_000;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe("a signing key", () => {
  it("has the RFC 7638 thumbprint as kid (as jose computes it)", async () => {
    const key = signingKey("k.pem");
    expect(key.kid).toBe(await calculateJwkThumbprint(key.jwk, "sha256"));
    expect(key.jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(key.jwk).not.toHaveProperty("d");
  });

  it.each([
    ["not PEM", "hello"],
    [
      "an RSA key",
      generateKeyPairSync("rsa", { modulusLength: 1024 })
        .privateKey.export({ format: "pem", type: "pkcs8" })
        .toString(),
    ],
    [
      "a P-384 key",
      generateKeyPairSync("ec", { namedCurve: "P-384" })
        .privateKey.export({ format: "pem", type: "pkcs8" })
        .toString(),
    ],
  ])("is refused when it is %s", (_name, pem) => {
    expect(() => loadSigningKey("k.pem", pem)).toThrow(SigningKeyError);
  });

  it("signs ES256 JWTs that jose verifies against the published set", async () => {
    const ring = new KeyRing();
    ring.setKeys([signingKey("k.pem")]);
    const exp = Math.floor(Date.now() / 1000) + 60;
    const token = ring.sign({ iss: "http://eventail", sub: "s", aud: "a", exp });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(ring.jwks()), {
      issuer: "http://eventail",
      audience: "a",
    });
    expect(payload.sub).toBe("s");
    expect(protectedHeader).toEqual({ alg: "ES256", typ: "JWT", kid: ring.current()!.kid });
  });
});

describe("key rotation", () => {
  const publishAheadMs = 10 * MINUTE;
  const kids = (ring: KeyRing) => ring.jwks().keys.map((k) => k.kid);

  it("publishes a new key at once and signs with it only after the publish-ahead delay", () => {
    const clock = new ManualClock();
    const ring = new KeyRing({ publishAheadMs, now: clock.now });
    const a = signingKey("key-2026-01.pem");
    const b = signingKey("key-2026-02.pem");
    ring.setKeys([a]);
    expect(ring.current()).toBe(a);
    clock.advance(MINUTE);
    ring.setKeys([a, b]);
    expect(kids(ring)).toEqual([a.kid, b.kid]);
    clock.advance(publishAheadMs - 1);
    expect(ring.current()).toBe(a);
    clock.advance(1);
    expect(ring.current()).toBe(b);
  });

  it("starts with the oldest key when none has been published long enough yet", () => {
    const clock = new ManualClock();
    const ring = new KeyRing({ publishAheadMs, now: clock.now });
    const a = signingKey("key-a.pem");
    const b = signingKey("key-b.pem");
    ring.setKeys([b, a]);
    expect(ring.current()).toBe(a);
    clock.advance(publishAheadMs);
    expect(ring.current()).toBe(b);
  });

  it("keeps a removed key published until the last token it signed has expired", () => {
    const clock = new ManualClock();
    const ring = new KeyRing({ publishAheadMs: 0, now: clock.now });
    const a = signingKey("key-a.pem");
    const b = signingKey("key-b.pem");
    ring.setKeys([a]);
    const exp = Math.floor(clock.ms / 1000) + 3600;
    const header = decodeProtectedHeader(ring.sign({ exp }));
    expect(header.kid).toBe(a.kid);
    ring.setKeys([b]);
    expect(kids(ring)).toEqual([b.kid, a.kid]);
    expect(ring.publicKey(a.kid)).toBeDefined();
    clock.advance(3600 * 1000 - 1);
    expect(kids(ring)).toContain(a.kid);
    clock.advance(1);
    expect(kids(ring)).toEqual([b.kid]);
    expect(ring.publicKey(a.kid)).toBeUndefined();
  });

  it("drops a removed key that signed nothing at once", () => {
    const ring = new KeyRing();
    const a = signingKey("key-a.pem");
    ring.setKeys([a]);
    ring.setKeys([signingKey("key-b.pem")]);
    expect(kids(ring)).not.toContain(a.kid);
  });
});

describe("key store", () => {
  it("generates one key in the state dir, 0600 in a 0700 folder, and keeps it", () => {
    const { dir, remove } = tempDir();
    cleanups.push(remove);
    expect(readStateKeys(dir)).toEqual([]);
    const [key] = ensureStateKeys(dir, new Date(Date.UTC(2026, 4, 1, 12, 30, 0)));
    expect(key!.name).toBe("key-20260501T123000Z.pem");
    const file = path.join(dir, "signing-keys", key!.name);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(ensureStateKeys(dir).map((k) => k.kid)).toEqual([key!.kid]);
  });

  it("reads every *.pem entry of the Secret, from data (base64) or stringData", () => {
    const pem = p256Pem();
    const signing = secret("eventail-signing-key", {
      data: { "a.pem": Buffer.from(pem).toString("base64"), note: "eA==" },
      stringData: { "b.pem": p256Pem() },
    });
    expect(secretKeys(signing).map((k) => k.name)).toEqual(["a.pem", "b.pem"]);
  });

  it("names the data key of a Secret entry that is not a key", () => {
    const signing = secret("eventail-signing-key", {
      stringData: { "a.pem": "not a key" },
    });
    expect(() => secretKeys(signing)).toThrow("data.a.pem: a.pem is not a PEM private key");
  });
});
