/**
 * Eventail's signing keys: ES256 (P-256) keys whose `kid` is the RFC 7638 JWK thumbprint, and
 * the ring that picks which one signs and which ones the JWKS publishes.
 *
 * Rotation, without a window in which a token fails to verify:
 * - Keys are named, and names sort oldest first (generated keys are `key-<UTC time>.pem`).
 * - Every key the configuration holds is published in the JWKS from the moment it is loaded.
 * - A key signs only once this process has published it for the publish-ahead delay (default
 *   10 minutes, longer than the JWKS `max-age` Eventail sends): the newest such key signs. Until
 *   any key has been published that long (just after start), the oldest one signs.
 * - A key removed from the configuration stays published, and keeps verifying, until the last
 *   token this process signed with it has expired.
 * So an operator rotates by adding a newer key beside the old one (the Secret
 * `eventail-signing-key`, or a file in the state dir followed by SIGHUP), and removes the old one
 * at leisure: it is not used to sign once the new one has been published long enough, and is kept
 * as long as needed. (Kept in memory: a restart forgets a removed key, so remove a key only an
 * hour after the new one started signing.)
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign as signBytes,
} from "node:crypto";
import type { JWK } from "jose";

export const SIGNING_ALGORITHM = "ES256";
export const DEFAULT_PUBLISH_AHEAD_MS = 10 * 60_000;

export class SigningKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SigningKeyError";
  }
}

export interface SigningKey {
  /** Where the key came from (a Secret data key, a file name): its place in the rotation order. */
  readonly name: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK as published: kty, crv, x, y, kid, alg, use. */
  readonly jwk: Readonly<JWK>;
}

/** RFC 7638 thumbprint of an EC public JWK: SHA-256 of its required members in order. */
export function ecThumbprint(jwk: { crv?: string; x?: string; y?: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: "EC", x: jwk.x, y: jwk.y });
  return createHash("sha256").update(canonical).digest("base64url");
}

/** Reads a PEM private key (PKCS#8 or SEC1); throws SigningKeyError unless it is EC P-256. */
export function loadSigningKey(name: string, pem: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new SigningKeyError(`${name} is not a PEM private key`);
  }
  if (
    privateKey.asymmetricKeyType !== "ec" ||
    privateKey.asymmetricKeyDetails?.namedCurve !== "prime256v1"
  ) {
    throw new SigningKeyError(`${name} is not an EC P-256 key (ES256 needs one)`);
  }
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: "jwk" }) as JWK;
  const kid = ecThumbprint(exported);
  const jwk = Object.freeze({
    kty: "EC",
    crv: exported.crv!,
    x: exported.x!,
    y: exported.y!,
    kid,
    alg: SIGNING_ALGORITHM,
    use: "sig",
  });
  return { name, kid, privateKey, publicKey, jwk };
}

/** A new P-256 private key as PKCS#8 PEM. */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ format: "pem", type: "pkcs8" })
    .toString();
}

export interface KeyRingOptions {
  readonly publishAheadMs?: number;
  readonly now?: () => number;
}

/** The keys in play: configured ones, plus removed ones whose tokens have not expired yet. */
export class KeyRing {
  private keys: SigningKey[] = [];
  private publishAheadMs: number;
  private readonly now: () => number;
  /** When this process first published each kid. */
  private readonly publishedAt = new Map<string, number>();
  /** Latest `exp` (ms) of a token this process signed, per kid. */
  private readonly lastExpiry = new Map<string, number>();
  /** Removed keys still published until their last token expires. */
  private readonly retired = new Map<string, { key: SigningKey; until: number }>();

  constructor(options: KeyRingOptions = {}) {
    this.publishAheadMs = options.publishAheadMs ?? DEFAULT_PUBLISH_AHEAD_MS;
    this.now = options.now ?? Date.now;
  }

  /** Replaces the configured keys (a Secret or the state dir changed). */
  setKeys(keys: readonly SigningKey[], publishAheadMs = this.publishAheadMs): void {
    const now = this.now();
    this.publishAheadMs = publishAheadMs;
    const next = [...new Map(keys.map((key) => [key.kid, key])).values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    const kept = new Set(next.map((key) => key.kid));
    for (const key of this.keys) {
      const until = this.lastExpiry.get(key.kid) ?? 0;
      if (!kept.has(key.kid) && until > now) this.retired.set(key.kid, { key, until });
    }
    for (const key of next) {
      this.retired.delete(key.kid);
      if (!this.publishedAt.has(key.kid)) this.publishedAt.set(key.kid, now);
    }
    this.keys = next;
  }

  get size(): number {
    return this.keys.length;
  }

  /** The key that signs now, or undefined when there is none. */
  current(): SigningKey | undefined {
    const now = this.now();
    for (let i = this.keys.length - 1; i >= 0; i--) {
      const key = this.keys[i]!;
      if (now - this.publishedAt.get(key.kid)! >= this.publishAheadMs) return key;
    }
    return this.keys[0];
  }

  /** The public key of a kid this ring publishes (configured, or retired and still needed). */
  publicKey(kid: string): KeyObject | undefined {
    const key = this.keys.find((k) => k.kid === kid) ?? this.live(kid);
    return key?.publicKey;
  }

  /** The JWK Set to publish. */
  jwks(): { keys: JWK[] } {
    const retired = [...this.retired.keys()].flatMap((kid) => this.live(kid)?.jwk ?? []);
    return { keys: [...this.keys.map((key) => key.jwk), ...retired] };
  }

  /**
   * A compact JWS of `claims` with the current key (`typ: JWT`). Synchronous (node:crypto), so
   * a delivery that needs a fresh token never waits on a promise.
   */
  sign(claims: Readonly<Record<string, unknown>> & { exp: number }): string {
    const key = this.current();
    if (key === undefined) throw new SigningKeyError("no signing key is configured");
    const header = { alg: SIGNING_ALGORITHM, typ: "JWT", kid: key.kid };
    const input = `${base64url(header)}.${base64url(claims)}`;
    const signature = signBytes("sha256", Buffer.from(input), {
      key: key.privateKey,
      dsaEncoding: "ieee-p1363",
    });
    const expiresMs = claims.exp * 1000;
    if ((this.lastExpiry.get(key.kid) ?? 0) < expiresMs) this.lastExpiry.set(key.kid, expiresMs);
    return `${input}.${signature.toString("base64url")}`;
  }

  private live(kid: string): SigningKey | undefined {
    const entry = this.retired.get(kid);
    if (entry === undefined) return undefined;
    if (entry.until > this.now()) return entry.key;
    this.retired.delete(kid);
    return undefined;
  }
}

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}
