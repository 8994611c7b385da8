import { createHmac, timingSafeEqual } from "node:crypto";
import { headerOf, type WebhookHeaders } from "../webhook/request.js";

export type SignatureCheck =
  | { ok: true; algorithm: "sha256" | "sha1" }
  | { ok: false; reason: string };

/** `sha256=<hex>` (or `sha1=<hex>`): the HMAC of the raw body keyed with the secret token. */
export function signatureOf(algorithm: "sha256" | "sha1", secret: string, body: Buffer): string {
  return `${algorithm}=${createHmac(algorithm, secret).update(body).digest("hex")}`;
}

function matches(given: string, expected: string): boolean {
  const a = Buffer.from(given.trim().toLowerCase(), "utf8");
  const b = Buffer.from(expected, "utf8");
  // The length of a well-formed signature is public (it only depends on the algorithm).
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * GitHub's webhook signature check: X-Hub-Signature-256 when present; the legacy SHA-1
 * X-Hub-Signature only when it is the sole signature sent (older GitHub Enterprise servers).
 */
export function verifySignature(
  headers: WebhookHeaders,
  body: Buffer,
  secret: string,
): SignatureCheck {
  // Anyone can compute an HMAC keyed with "": such a secret proves nothing.
  if (secret === "") return { ok: false, reason: "the secret token is empty" };
  const sha256 = headerOf(headers, "x-hub-signature-256");
  if (sha256 !== undefined) {
    return matches(sha256, signatureOf("sha256", secret, body))
      ? { ok: true, algorithm: "sha256" }
      : { ok: false, reason: "X-Hub-Signature-256 does not match the body" };
  }
  const sha1 = headerOf(headers, "x-hub-signature");
  if (sha1 !== undefined) {
    return matches(sha1, signatureOf("sha1", secret, body))
      ? { ok: true, algorithm: "sha1" }
      : { ok: false, reason: "X-Hub-Signature does not match the body" };
  }
  return { ok: false, reason: "missing X-Hub-Signature-256 header" };
}
