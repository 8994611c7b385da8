/**
 * `eventail token`: prints a JWT signed by Eventail's issuer, for a client (or a test) to send to
 * an address where authentication is on. The key is the signing-key Secret under `-f` when there
 * is one, else the state dir's; with neither it fails (exit 2) and never creates a key, so a typo
 * cannot mint an issuer nobody trusts.
 */

import { randomUUID } from "node:crypto";
import { parseIsoDuration } from "../resources/duration.js";
import { loadManifests } from "../resources/loader.js";
import {
  defaultStateDir,
  readIssuerRecord,
  readStateKeys,
  secretKeys,
  signingSecret,
} from "../security/key-store.js";
import { KeyRing, type SigningKey } from "../security/signing-keys.js";
import { defaultServer } from "./api-client.js";

export interface TokenOptions {
  sub: string;
  aud: string;
  ttl?: string;
  claim?: string[];
  filename?: string[];
  issuer?: string;
}

/** Claims the command sets itself. */
const RESERVED = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]);

class UsageError extends Error {}

export async function tokenCommand(options: TokenOptions): Promise<number> {
  try {
    const ttlMs = parseIsoDuration(options.ttl ?? "PT1H");
    if (ttlMs === undefined || ttlMs < 1000) {
      throw new UsageError(
        `--ttl must be an ISO-8601 duration of at least 1 s, like PT1H (got ${options.ttl})`,
      );
    }
    const claims = extraClaims(options.claim ?? []);
    const stateDir = defaultStateDir();
    const keys = await signingKeys(options.filename ?? [], stateDir);
    // The newest key: a running server publishes every configured key, whichever signs.
    const ring = new KeyRing({ publishAheadMs: 0 });
    ring.setKeys(keys);
    const issuer = options.issuer ?? readIssuerRecord(stateDir) ?? defaultServer();
    const iat = Math.floor(Date.now() / 1000);
    const token = ring.sign({
      ...claims,
      iss: issuer.replace(/\/+$/, ""),
      sub: options.sub,
      aud: options.aud,
      iat,
      exp: iat + Math.floor(ttlMs / 1000),
      jti: randomUUID(),
    });
    process.stdout.write(`${token}\n`);
    return 0;
  } catch (error) {
    process.stderr.write(`eventail token: ${(error as Error).message}\n`);
    return 2;
  }
}

function extraClaims(pairs: readonly string[]): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--claim must be key=value, not ${pair}`);
    const key = pair.slice(0, eq);
    if (RESERVED.has(key)) throw new UsageError(`--claim ${key}: set by the command itself`);
    claims[key] = pair.slice(eq + 1);
  }
  return claims;
}

async function signingKeys(paths: readonly string[], stateDir: string): Promise<SigningKey[]> {
  if (paths.length > 0) {
    const { resources } = await loadManifests(paths);
    const secret = signingSecret(resources);
    if (secret) return secretKeys(secret);
  }
  const keys = readStateKeys(stateDir);
  if (keys.length > 0) return keys;
  throw new UsageError(
    `no signing key: no Secret eventail-signing-key ${paths.length > 0 ? `under ${paths.join(", ")} ` : "(give -f) "}and none in ${stateDir}`,
  );
}
