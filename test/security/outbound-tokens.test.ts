import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { OutboundTokens } from "../../src/security/outbound-tokens.js";
import { KeyRing } from "../../src/security/signing-keys.js";
import { ManualClock, signingKey } from "./support.js";

function setUp() {
  const clock = new ManualClock();
  const ring = new KeyRing({ now: clock.now, publishAheadMs: 0 });
  const first = signingKey("a.pem");
  ring.setKeys([first]);
  const tokens = new OutboundTokens(ring, { now: clock.now, maxEntries: 2 });
  tokens.setIssuer("http://eventail.test");
  return { clock, ring, tokens, first };
}

describe("delivery tokens", () => {
  it("are valid one hour, for the sender and the destination's audience", async () => {
    const { tokens, ring, clock } = setUp();
    const token = tokens.token(
      "system:serviceaccount:default:t-oidc-eventing.knative.dev-trigger",
      "https://sink",
    );
    const { payload } = await jwtVerify(token, createLocalJWKSet(ring.jwks()), {
      issuer: "http://eventail.test",
      audience: "https://sink",
      currentDate: new Date(clock.ms),
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.sub).toBe("system:serviceaccount:default:t-oidc-eventing.knative.dev-trigger");
  });

  it("hold only the claims a receiver checks, and come as a ready header value", () => {
    const { tokens } = setUp();
    const token = tokens.token("s", "a");
    expect(Object.keys(decodeJwt(token)).sort()).toEqual(["aud", "exp", "iat", "iss", "sub"]);
    expect(tokens.header("s", "a")).toBe(`Bearer ${token}`);
  });

  it("are reused until five minutes before they expire, then renewed", () => {
    const { tokens, clock } = setUp();
    const first = tokens.token("s", "a");
    clock.advance(55 * 60_000 - 1_000);
    expect(tokens.token("s", "a")).toBe(first);
    clock.advance(1_000);
    const renewed = tokens.token("s", "a");
    expect(renewed).not.toBe(first);
    expect(decodeJwt(renewed).exp).toBeGreaterThan(decodeJwt(first).exp!);
  });

  it("differ per sender and per audience, and keep at most maxEntries pairs", () => {
    const { tokens } = setUp();
    const a = tokens.token("s", "a");
    expect(tokens.token("s", "b")).not.toBe(a);
    tokens.token("t", "a"); // a third pair pushes the oldest one out
    expect(tokens.token("s", "a")).not.toBe(a);
  });

  it("are signed with the key the ring rotates to", () => {
    const { tokens, ring, clock } = setUp();
    const before = tokens.token("s", "a");
    const next = signingKey("b.pem");
    ring.setKeys([...(ring.jwks().keys.length ? [] : []), signingKey("a2.pem"), next]);
    clock.advance(60 * 60_000);
    const after = tokens.token("s", "a");
    expect(JSON.parse(Buffer.from(after.split(".")[0]!, "base64url").toString()).kid).toBe(
      next.kid,
    );
    expect(after).not.toBe(before);
  });
});
