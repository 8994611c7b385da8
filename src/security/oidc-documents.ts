/**
 * The two documents an OIDC issuer serves to verifiers: its discovery document
 * (`/.well-known/openid-configuration`, OpenID Connect Discovery 1.0) and its JWK Set (RFC 7517).
 * They come from the network: every malformed input is an OidcDocumentError with a one-line
 * reason, never another exception, and a key Eventail cannot use is skipped rather than fatal.
 */
import type { JWK } from "jose";

export class OidcDocumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OidcDocumentError";
  }
}

/** A set this large is not a signing key set; the bound keeps a hostile one cheap. */
export const MAX_JWKS_KEYS = 100;

export interface Discovery {
  readonly issuer: string;
  readonly jwksUri: string;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"] as const;
const REQUIRED_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ["crv", "x", "y"],
  RSA: ["n", "e"],
  OKP: ["crv", "x"],
};

function parseJson(body: string | Uint8Array, what: string): unknown {
  const text = typeof body === "string" ? body : Buffer.from(body).toString("utf8");
  try {
    return JSON.parse(text);
  } catch {
    throw new OidcDocumentError(`the ${what} is not JSON`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The discovery document of `expectedIssuer`; its `issuer` must be that URL exactly (§4.3). */
export function parseDiscovery(body: string | Uint8Array, expectedIssuer: string): Discovery {
  const document = parseJson(body, "discovery document");
  if (!isObject(document)) throw new OidcDocumentError("the discovery document is not an object");
  const { issuer, jwks_uri: jwksUri } = document;
  if (issuer !== expectedIssuer) {
    throw new OidcDocumentError(
      `the discovery document names issuer ${JSON.stringify(issuer)}, not ${JSON.stringify(expectedIssuer)}`,
    );
  }
  if (typeof jwksUri !== "string" || !/^https?:\/\//i.test(jwksUri) || !URL.canParse(jwksUri)) {
    throw new OidcDocumentError("the discovery document has no http(s) jwks_uri");
  }
  return { issuer, jwksUri };
}

/**
 * The public signing keys of a JWK Set. A key whose type Eventail does not verify with, that is
 * not for signatures, that lacks its members, or that carries private members is skipped.
 */
export function parseJwks(body: string | Uint8Array): { keys: JWK[] } {
  const document = parseJson(body, "JWK Set");
  if (!isObject(document) || !Array.isArray(document["keys"])) {
    throw new OidcDocumentError('the JWK Set is not an object with a "keys" array');
  }
  const listed = document["keys"] as unknown[];
  if (listed.length > MAX_JWKS_KEYS) {
    throw new OidcDocumentError(`the JWK Set holds more than ${MAX_JWKS_KEYS} keys`);
  }
  return { keys: listed.filter(isPublicSigningKey) as JWK[] };
}

function isPublicSigningKey(key: unknown): boolean {
  if (!isObject(key)) return false;
  const kty = key["kty"];
  if (typeof kty !== "string") return false;
  const required = REQUIRED_MEMBERS[kty];
  if (!required?.every((member) => typeof key[member] === "string")) return false;
  if (PRIVATE_MEMBERS.some((member) => key[member] !== undefined)) return false;
  for (const member of ["kid", "alg", "use"]) {
    if (key[member] !== undefined && typeof key[member] !== "string") return false;
  }
  if (key["use"] !== undefined && key["use"] !== "sig") return false;
  const ops = key["key_ops"];
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes("verify"))) return false;
  return true;
}
