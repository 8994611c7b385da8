/** Keys, tokens and resources the security tests share. */
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLocalJWKSet } from "jose";
import type { Resource, SecretResource } from "../../src/resources/types.js";
import { API_AUDIENCE } from "../../src/security/api-guard.js";
import { KeyRing, loadSigningKey, type SigningKey } from "../../src/security/signing-keys.js";
import { TokenVerifier } from "../../src/security/token-verifier.js";

export function p256Pem(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();
}

export function signingKey(name: string): SigningKey {
  return loadSigningKey(name, p256Pem());
}

/** A fresh folder under the system's temp dir, removed by the returned function. */
export function tempDir(prefix = "eventail-security-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function resource(
  apiVersion: string,
  kind: string,
  name: string,
  fields: Partial<Omit<Resource, "metadata">> & {
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  } = {},
): Resource {
  const { namespace = "default", labels, annotations, ...rest } = fields;
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace,
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
    spec: undefined,
    origin: { file: "test.yaml", line: 1 },
    ...rest,
  };
}

/** A clock tests move by hand. */
export class ManualClock {
  constructor(public ms = Date.UTC(2026, 0, 1)) {}
  readonly now = () => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function secret(
  name: string,
  fields: {
    namespace?: string;
    data?: Record<string, string>;
    stringData?: Record<string, string>;
    annotations?: Record<string, string>;
  },
): SecretResource {
  const { namespace = "default", annotations, ...rest } = fields;
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: undefined,
    origin: { file: "test.yaml", line: 1 },
    ...rest,
  };
}

/**
 * A verifier that trusts one local issuer, and `bearer(claims)`: an Authorization value for a
 * token of that issuer with the operations API's audience (the claims override the defaults).
 */
export function apiTokens(issuer = "http://eventail.test"): {
  verifier: TokenVerifier;
  bearer: (claims?: Record<string, unknown>) => string;
} {
  const ring = new KeyRing();
  ring.setKeys([signingKey("k.pem")]);
  const verifier = new TokenVerifier();
  verifier.setIssuers(new Map([[issuer, createLocalJWKSet(ring.jwks())]]));
  const bearer = (claims: Record<string, unknown> = {}) => {
    const iat = Math.floor(Date.now() / 1000);
    const token = ring.sign({
      iss: issuer,
      sub: "ops",
      aud: API_AUDIENCE,
      iat,
      exp: iat + 60,
      ...claims,
    } as never);
    return `Bearer ${token}`;
  };
  return { verifier, bearer };
}
