/**
 * A Destination's `CACerts` (Knative's field): PEM certificates a delivery to it trusts beside
 * the system CAs. Text between blocks is allowed, as OpenSSL and CA bundle files have it.
 */
import { X509Certificate } from "node:crypto";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
const BEGIN = /-----BEGIN [A-Z0-9 ]*-----/g;

export type CaCertsParse = { readonly certs: readonly string[] } | { readonly error: string };

/**
 * The certificates of a PEM bundle, each re-encoded as PEM, or why the bundle cannot be used.
 * Messages never quote the text: someone may have pasted a private key by mistake.
 */
export function parseCaCerts(text: string): CaCertsParse {
  const certs: string[] = [];
  let blocks = 0;
  for (const match of text.matchAll(BLOCK)) {
    blocks++;
    const label = match[1]!;
    if (label.includes("PRIVATE KEY")) {
      return { error: `block ${blocks} is a private key, not a certificate: remove it` };
    }
    if (label !== "CERTIFICATE") {
      return { error: `block ${blocks} is a ${label}, not a CERTIFICATE` };
    }
    try {
      certs.push(new X509Certificate(match[0]).toString());
    } catch {
      return { error: `certificate ${blocks} is not a valid PEM X.509 certificate` };
    }
  }
  // A BEGIN line without its END would otherwise be skipped silently.
  const begun = text.match(BEGIN)?.length ?? 0;
  if (begun !== blocks) return { error: "a PEM block has no matching END line" };
  if (certs.length === 0)
    return { error: "holds no PEM certificate (-----BEGIN CERTIFICATE-----)" };
  return { certs };
}
