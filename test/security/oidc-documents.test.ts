import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_JWKS_KEYS,
  OidcDocumentError,
  parseDiscovery,
  parseJwks,
} from "../../src/security/oidc-documents.js";

const ecKey = () =>
  generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
const rsaKey = () =>
  generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "jwk" });

describe("parseJwks", () => {
  it("keeps public signing keys of the types Eventail verifies with", () => {
    const keys = [
      { ...ecKey(), kid: "ec" },
      { ...rsaKey(), kid: "rsa", use: "sig", alg: "RS256" },
    ];
    expect(parseJwks(JSON.stringify({ keys })).keys.map((k) => k.kid)).toEqual(["ec", "rsa"]);
  });

  it.each([
    ["an encryption key", { ...ecKey(), use: "enc" }],
    [
      "a private key",
      {
        ...generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" }),
      },
    ],
    ["a symmetric key", { kty: "oct", k: "c2VjcmV0" }],
    ["an EC key without y", { kty: "EC", crv: "P-256", x: "abc" }],
    ["a key whose kid is a number", { ...ecKey(), kid: 7 }],
    ["a key not for verifying", { ...ecKey(), key_ops: ["encrypt"] }],
    ["not an object", "a string"],
  ])("skips %s", (_name, key) => {
    expect(parseJwks(JSON.stringify({ keys: [key, { ...ecKey(), kid: "good" }] })).keys).toEqual([
      expect.objectContaining({ kid: "good" }),
    ]);
  });

  it.each([
    ["not JSON", "{keys:"],
    ["not an object", "[]"],
    ["no keys array", '{"keys": {}}'],
    ["too many keys", JSON.stringify({ keys: Array.from({ length: MAX_JWKS_KEYS + 1 }, ecKey) })],
  ])("refuses a set that is %s", (_name, body) => {
    expect(() => parseJwks(body)).toThrow(OidcDocumentError);
  });

  it("never throws anything but OidcDocumentError (fuzz)", () => {
    const member = fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.boolean());
    const key = fc.dictionary(
      fc.constantFrom("kty", "crv", "x", "y", "n", "e", "kid", "alg", "use", "d", "key_ops", "k"),
      fc.oneof(member, fc.constantFrom("EC", "RSA", "OKP", "sig", "P-256"), fc.array(member)),
    );
    const body = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.json(),
      fc
        .record({ keys: fc.array(fc.oneof(key, member), { maxLength: 8 }) })
        .map((d) => JSON.stringify(d)),
      fc.uint8Array({ maxLength: 200 }),
    );
    fc.assert(
      fc.property(body, (input) => {
        try {
          const parsed = parseJwks(input);
          for (const k of parsed.keys) expect(["EC", "RSA", "OKP"]).toContain(k.kty);
        } catch (error) {
          expect(error).toBeInstanceOf(OidcDocumentError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe("parseDiscovery", () => {
  const issuer = "https://issuer.example/realms/a";

  it("gives the jwks_uri of the expected issuer", () => {
    const body = JSON.stringify({ issuer, jwks_uri: `${issuer}/certs`, other: 1 });
    expect(parseDiscovery(body, issuer)).toEqual({ issuer, jwksUri: `${issuer}/certs` });
  });

  it.each([
    [
      "names another issuer (OIDC Discovery §4.3)",
      { issuer: "https://evil.example", jwks_uri: "https://evil.example/k" },
    ],
    ["has no jwks_uri", { issuer }],
    ["has a jwks_uri that is no http(s) URL", { issuer, jwks_uri: "file:///etc/passwd" }],
  ])("refuses a document that %s", (_name, document) => {
    expect(() => parseDiscovery(JSON.stringify(document), issuer)).toThrow(OidcDocumentError);
  });

  it("never throws anything but OidcDocumentError (fuzz)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), fc.json()), (input) => {
        try {
          parseDiscovery(input, issuer);
        } catch (error) {
          expect(error).toBeInstanceOf(OidcDocumentError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
