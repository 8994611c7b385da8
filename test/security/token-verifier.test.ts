import { createSecretKey } from "node:crypto";
import fc from "fast-check";
import { createLocalJWKSet, type JWTVerifyGetKey, SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import { AuthenticationError } from "../../src/security/errors.js";
import { KeyRing } from "../../src/security/signing-keys.js";
import { TokenVerifier } from "../../src/security/token-verifier.js";
import { ManualClock, signingKey } from "./support.js";

const ISSUER = "http://eventail.test";
const AUDIENCE = "eventing.knative.dev/broker/default/orders";

function setUp(options: { cacheSize?: number } = {}) {
  const clock = new ManualClock();
  const ring = new KeyRing({ now: clock.now });
  ring.setKeys([signingKey("k.pem")]);
  const verifier = new TokenVerifier({ now: clock.now, ...options });
  const getKey: JWTVerifyGetKey = createLocalJWKSet(ring.jwks());
  verifier.setIssuers(new Map([[ISSUER, getKey]]));
  const nowSec = () => Math.floor(clock.ms / 1000);
  const sign = (claims: Record<string, unknown> = {}) =>
    ring.sign({
      iss: ISSUER,
      sub: "system:serviceaccount:default:app",
      aud: AUDIENCE,
      exp: nowSec() + 600,
      ...claims,
    } as never);
  return { clock, ring, verifier, sign, nowSec };
}

async function refusal(run: () => unknown): Promise<AuthenticationError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(AuthenticationError);
    return error as AuthenticationError;
  }
  throw new Error("the token was accepted");
}

describe("TokenVerifier", () => {
  it("accepts a valid token for its audience and gives its claims", async () => {
    const { verifier, sign } = setUp();
    const verified = await verifier.verify(sign(), AUDIENCE);
    expect(verified).toMatchObject({
      iss: ISSUER,
      sub: "system:serviceaccount:default:app",
      aud: [AUDIENCE],
    });
  });

  it("accepts an audience list that holds the address's audience", async () => {
    const { verifier, sign } = setUp();
    await expect(
      verifier.verify(sign({ aud: ["other", AUDIENCE] }), AUDIENCE),
    ).resolves.toBeDefined();
  });

  it("accepts a token expired by less than the clock tolerance", async () => {
    const { verifier, sign, nowSec } = setUp();
    await expect(verifier.verify(sign({ exp: nowSec() - 3 }), AUDIENCE)).resolves.toBeDefined();
  });

  it.each<[string, (t: ReturnType<typeof setUp>) => string | Promise<string>, string]>([
    ["expired", (t) => t.sign({ exp: t.nowSec() - 60 }), "expired"],
    ["not valid yet (nbf)", (t) => t.sign({ nbf: t.nowSec() + 60 }), "nbf"],
    ["without exp", (t) => t.sign({ exp: undefined }), "exp"],
    ["without sub", (t) => t.sign({ sub: undefined }), "sub"],
    [
      "for another audience",
      (t) => t.sign({ aud: "eventing.knative.dev/broker/default/other" }),
      "audience is not",
    ],
    [
      "of an issuer not trusted",
      (t) => t.sign({ iss: "https://elsewhere.example" }),
      "not trusted",
    ],
    ["naming no issuer", (t) => t.sign({ iss: undefined }), "names no issuer"],
    [
      "signed by a key the issuer does not publish",
      (t) => {
        const other = new KeyRing({ now: t.clock.now });
        other.setKeys([signingKey("other.pem")]);
        return other.sign({ iss: ISSUER, sub: "s", aud: AUDIENCE, exp: t.nowSec() + 60 });
      },
      "no key of the issuer",
    ],
    [
      "with a payload changed after signing",
      (t) => {
        const [header, , signature] = t.sign().split(".");
        const payload = Buffer.from(
          JSON.stringify({ iss: ISSUER, sub: "admin", aud: AUDIENCE, exp: t.nowSec() + 60 }),
        ).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
      "signature does not verify",
    ],
    [
      "unsigned (alg none)",
      (t) =>
        new UnsecuredJWT({ sub: "s" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime(t.nowSec() + 60)
          .encode(),
      "not",
    ],
    [
      "signed with a shared secret (HS256)",
      (t) =>
        new SignJWT({ sub: "s" })
          .setProtectedHeader({ alg: "HS256" })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime(t.nowSec() + 60)
          .sign(createSecretKey(Buffer.alloc(32, 1))),
      "algorithm is not accepted",
    ],
    ["not a JWT", () => "abc.def", "not a JWT"],
  ])("refuses a token %s (401, invalid_token)", async (_name, make, reason) => {
    const t = setUp();
    const token = await make(t);
    const error = await refusal(() => t.verifier.verify(token, AUDIENCE));
    expect(error.tokenGiven).toBe(true);
    expect(error.message).toContain(reason);
    expect(error.message).not.toContain(token);
  });

  it("answers a token it verified before from its cache, synchronously", async () => {
    const { verifier, sign } = setUp();
    const token = sign();
    expect(verifier.verify(token, AUDIENCE)).toBeInstanceOf(Promise);
    await verifier.verify(token, AUDIENCE);
    const again = verifier.verify(token, AUDIENCE);
    expect(again).not.toBeInstanceOf(Promise);
    expect(verifier.cached).toBe(1);
  });

  it("still checks the audience and the expiry of a cached token", async () => {
    const { verifier, sign, clock } = setUp();
    const token = sign();
    await verifier.verify(token, AUDIENCE);
    expect(() => verifier.verify(token, "eventing.knative.dev/broker/default/other")).toThrow(
      AuthenticationError,
    );
    clock.advance(700_000);
    expect(() => verifier.verify(token, AUDIENCE)).toThrow("the token has expired");
    expect(verifier.cached).toBe(0);
  });

  it("keeps at most cacheSize tokens, dropping the least recently used", async () => {
    const { verifier, sign } = setUp({ cacheSize: 2 });
    const [a, b, c] = [sign({ jti: "a" }), sign({ jti: "b" }), sign({ jti: "c" })];
    await verifier.verify(a, AUDIENCE);
    await verifier.verify(b, AUDIENCE);
    verifier.verify(a, AUDIENCE); // a is now the most recently used
    await verifier.verify(c, AUDIENCE);
    expect(verifier.cached).toBe(2);
    expect(verifier.verify(a, AUDIENCE)).not.toBeInstanceOf(Promise);
    expect(verifier.verify(b, AUDIENCE)).toBeInstanceOf(Promise);
  });

  it("refuses junk with AuthenticationError and nothing else (fuzz)", async () => {
    const { verifier, sign } = setUp();
    const valid = sign();
    const segment = fc.string({
      unit: fc.constantFrom(..."ABCabc012-_=.".split("")),
      maxLength: 40,
    });
    const junk = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(segment, segment, segment).map((parts) => parts.join(".")),
      fc
        .json()
        .map(
          (json) =>
            `${Buffer.from(json).toString("base64url")}.${Buffer.from(json).toString("base64url")}.x`,
        ),
      fc
        .nat({ max: valid.length - 1 })
        .chain((at) =>
          fc
            .constantFrom(..."ABCxyz019-_".split(""))
            .map((c) => valid.slice(0, at) + c + valid.slice(at + 1)),
        ),
    );
    await fc.assert(
      fc.asyncProperty(junk, async (token) => {
        fc.pre(token !== valid);
        try {
          await verifier.verify(token, AUDIENCE);
        } catch (error) {
          expect(error).toBeInstanceOf(AuthenticationError);
          return;
        }
        // Only a change to the signature's last character that leaves its bytes alone (unused
        // base64url bits) may still verify: the signed header and payload must be untouched.
        const [header, payload, signature] = token.split(".");
        expect([header, payload]).toEqual(valid.split(".").slice(0, 2));
        expect(Buffer.from(signature ?? "", "base64url")).toEqual(
          Buffer.from(valid.split(".")[2]!, "base64url"),
        );
      }),
      { numRuns: 1500 },
    );
  });
});
