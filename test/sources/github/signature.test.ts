import { describe, expect, it } from "vitest";
import { signatureOf, verifySignature } from "../../../src/sources/github/signature.js";

// GitHub's documented test vector (docs: "Validating webhook deliveries").
const SECRET = "It's a Secret to Everybody";
const PAYLOAD = Buffer.from("Hello, World!");
const SHA256 = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
// The same message and key through `openssl dgst -sha1 -hmac`.
const SHA1 = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

describe("GitHub webhook signatures", () => {
  it("computes GitHub's documented HMAC-SHA256 vector", () => {
    expect(signatureOf("sha256", SECRET, PAYLOAD)).toBe(SHA256);
  });

  it.each<[string, Record<string, string>, Buffer, string, boolean]>([
    ["the official vector verifies", { "x-hub-signature-256": SHA256 }, PAYLOAD, SECRET, true],
    [
      "an upper-case hex digest verifies too",
      { "X-Hub-Signature-256": SHA256.toUpperCase().replace("SHA256", "sha256") },
      PAYLOAD,
      SECRET,
      true,
    ],
    [
      "another secret does not verify",
      { "x-hub-signature-256": SHA256 },
      PAYLOAD,
      "It's a Secret to Nobody",
      false,
    ],
    [
      "one changed byte of the body does not verify",
      { "x-hub-signature-256": SHA256 },
      Buffer.from("Hello, World?"),
      SECRET,
      false,
    ],
    [
      "a truncated signature does not verify",
      { "x-hub-signature-256": SHA256.slice(0, -2) },
      PAYLOAD,
      SECRET,
      false,
    ],
    [
      "a signature without its sha256= prefix does not verify",
      { "x-hub-signature-256": SHA256.slice(7) },
      PAYLOAD,
      SECRET,
      false,
    ],
    ["no signature header does not verify", {}, PAYLOAD, SECRET, false],
    [
      "the legacy SHA-1 header verifies when it is the only one",
      { "x-hub-signature": SHA1 },
      PAYLOAD,
      SECRET,
      true,
    ],
    [
      "a wrong legacy SHA-1 header does not verify",
      { "x-hub-signature": SHA1.replace("01dc", "01dd") },
      PAYLOAD,
      SECRET,
      false,
    ],
    [
      "a bad SHA-256 header fails even beside a good SHA-1 one",
      { "x-hub-signature-256": SHA256.replace("7571", "7572"), "x-hub-signature": SHA1 },
      PAYLOAD,
      SECRET,
      false,
    ],
  ])("%s", (_name, headers, body, secret, ok) => {
    expect(verifySignature(headers, body, secret).ok).toBe(ok);
  });

  it("says which header failed or was missing", () => {
    expect(verifySignature({}, PAYLOAD, SECRET)).toEqual({
      ok: false,
      reason: "missing X-Hub-Signature-256 header",
    });
    expect(verifySignature({ "x-hub-signature-256": "sha256=00" }, PAYLOAD, SECRET)).toEqual({
      ok: false,
      reason: "X-Hub-Signature-256 does not match the body",
    });
  });
});
