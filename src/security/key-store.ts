/**
 * Where Eventail's signing keys live: the Secret `eventail-signing-key` when the manifests declare
 * one (every process of a scale-out then signs alike), else `$EVENTAIL_STATE_DIR/signing-keys/`
 * (default `.eventail/` in the working directory), where the first start that needs a key
 * generates one. Each `*.pem` entry (Secret data key or file) is one key; see signing-keys.ts for
 * how several of them rotate.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { parseIsoDuration } from "../resources/duration.js";
import { secretData } from "../resources/secrets.js";
import type { Resource, SecretResource } from "../resources/types.js";
import {
  generateSigningKeyPem,
  loadSigningKey,
  type SigningKey,
  SigningKeyError,
} from "./signing-keys.js";

export const SIGNING_SECRET_NAME = "eventail-signing-key";
/** Secret annotation: how long a new key is published before it signs (ISO-8601, e.g. PT10M). */
export const PUBLISH_AHEAD_ANNOTATION = "eventail.io/publish-ahead";
const KEY_SUFFIX = ".pem";
const KEYS_FOLDER = "signing-keys";
const ISSUER_FILE = "issuer";

/** `$EVENTAIL_STATE_DIR`, else `.eventail/` in the working directory (CONTRACT §10). */
export function defaultStateDir(): string {
  const fromEnvironment = process.env["EVENTAIL_STATE_DIR"];
  return fromEnvironment ? path.resolve(fromEnvironment) : path.resolve(".eventail");
}

/**
 * The signing-key Secret among `resources`: the one in `namespace` when given (the controller's
 * own: in a cluster, anyone who may create a Secret elsewhere must not choose the key every
 * token is signed and checked with); else, with several namespaces declaring one, the first.
 */
export function signingSecret(
  resources: readonly Resource[],
  namespace?: string,
): SecretResource | undefined {
  const found = resources
    .filter(
      (r) =>
        r.kind === "Secret" &&
        r.metadata.name === SIGNING_SECRET_NAME &&
        (namespace === undefined || r.metadata.namespace === namespace),
    )
    .sort((a, b) => (a.metadata.namespace < b.metadata.namespace ? -1 : 1));
  return found[0] as SecretResource | undefined;
}

/** The keys of the signing-key Secret; throws SigningKeyError naming the data key at fault. */
export function secretKeys(secret: SecretResource): SigningKey[] {
  const data = secretData(secret);
  const names = Object.keys(data).filter((name) => name.endsWith(KEY_SUFFIX));
  if (names.length === 0) {
    throw new SigningKeyError(`Secret ${SIGNING_SECRET_NAME} holds no *${KEY_SUFFIX} entry`);
  }
  return names.map((name) => {
    try {
      return loadSigningKey(name, data[name]!);
    } catch (error) {
      throw new SigningKeyError(`data.${name}: ${(error as Error).message}`);
    }
  });
}

/** The Secret's publish-ahead delay in ms, undefined when it sets none or an invalid one. */
export function publishAheadOf(secret: SecretResource): number | undefined {
  const text = secret.metadata.annotations?.[PUBLISH_AHEAD_ANNOTATION];
  return text === undefined ? undefined : parseIsoDuration(text);
}

function keysFolder(stateDir: string): string {
  return path.join(stateDir, KEYS_FOLDER);
}

/** The keys kept in the state dir (none when it does not exist). */
export function readStateKeys(stateDir: string): SigningKey[] {
  const folder = keysFolder(stateDir);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((file) => file.endsWith(KEY_SUFFIX))
    .sort()
    .map((file) => loadSigningKey(file, readFileSync(path.join(folder, file), "utf8")));
}

/** Key files other users may read: a warning to log, since the key is then no secret. */
export function exposedStateKeys(stateDir: string): string[] {
  const folder = keysFolder(stateDir);
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((file) => file.endsWith(KEY_SUFFIX))
    .filter((file) => (statSync(path.join(folder, file)).mode & 0o077) !== 0)
    .map((file) => path.join(folder, file));
}

/**
 * The state dir's keys, generating the first one when there is none: mode 0600 in a 0700
 * folder, created exclusively so two processes starting at once cannot overwrite each other's.
 */
export function ensureStateKeys(stateDir: string, now: Date = new Date()): SigningKey[] {
  const existing = readStateKeys(stateDir);
  if (existing.length > 0) return existing;
  const folder = keysFolder(stateDir);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const file = path.join(folder, `key-${stamp}${KEY_SUFFIX}`);
  try {
    const fd = openSync(file, "wx", 0o600);
    try {
      writeSync(fd, generateSigningKeyPem());
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return readStateKeys(stateDir);
}

/** Records the issuer URL a server signs as, so `eventail token` can default to it. */
export function writeIssuerRecord(stateDir: string, issuer: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const fd = openSync(path.join(stateDir, ISSUER_FILE), "w", 0o600);
  try {
    writeSync(fd, `${issuer}\n`);
  } finally {
    closeSync(fd);
  }
}

export function readIssuerRecord(stateDir: string): string | undefined {
  const file = path.join(stateDir, ISSUER_FILE);
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8").trim();
  return text === "" ? undefined : text;
}
