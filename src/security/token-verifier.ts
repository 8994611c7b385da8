/**
 * Verifies bearer JWTs with jose: a trusted issuer's signature (an asymmetric algorithm only),
 * `exp` (required) and `nbf` with a small clock tolerance, then `aud`. A verified token's claims
 * are cached under the token string itself until it expires, so the hot path looks up instead of
 * verifying a signature (a Map lookup of the string costs less than hashing it first): an LRU of
 * at most `cacheSize` entries (default 10,000), each holding the issuer, subject, audiences,
 * expiry and the claims. Tokens are at most MAX_TOKEN_LENGTH characters (bearer.ts).
 * jose is loaded on first use (jose-loader.ts).
 */
import type { JWTPayload, JWTVerifyGetKey } from "jose";
import { AuthenticationError } from "./errors.js";
import { type Jose, loadJose } from "./jose-loader.js";
import { IssuerUnavailableError } from "./remote-issuer.js";

export interface VerifiedToken {
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  /** Seconds since the epoch. */
  readonly exp: number;
  readonly claims: Readonly<JWTPayload>;
}

/** Algorithms a token may be signed with: asymmetric ones, so no key is ever a shared secret. */
const ALGORITHMS = [
  "ES256",
  "ES384",
  "ES512",
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "EdDSA",
  "Ed25519",
];

/** A key lookup found no key for the token (thrown by the issuers' key functions). */
export class NoMatchingKeyError extends Error {
  constructor() {
    super("no key of the issuer matches the token");
    this.name = "NoMatchingKeyError";
  }
}

export interface TokenVerifierOptions {
  /** Seconds of clock skew allowed on exp and nbf; default 5. */
  readonly clockToleranceSec?: number;
  /** Verified tokens kept; default 10,000. */
  readonly cacheSize?: number;
  readonly now?: () => number;
}

export class TokenVerifier {
  private issuers: ReadonlyMap<string, JWTVerifyGetKey> = new Map();
  private readonly cache = new Map<string, VerifiedToken>();
  private readonly toleranceSec: number;
  private readonly cacheSize: number;
  private readonly now: () => number;

  constructor(options: TokenVerifierOptions = {}) {
    this.toleranceSec = options.clockToleranceSec ?? 5;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The issuers whose tokens verify, by `iss`; forgets every cached token. */
  setIssuers(issuers: ReadonlyMap<string, JWTVerifyGetKey>): void {
    this.issuers = issuers;
    this.cache.clear();
  }

  /** Forgets every cached token (a key was removed: its tokens must verify again). */
  clear(): void {
    this.cache.clear();
  }

  get cached(): number {
    return this.cache.size;
  }

  /**
   * The token's claims when it is valid for `audience`; synchronous on a cache hit. Throws (or
   * rejects with) AuthenticationError, whatever the input.
   */
  verify(token: string, audience: string): VerifiedToken | Promise<VerifiedToken> {
    const key = token;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      if (hit.exp * 1000 + this.toleranceSec * 1000 <= this.now()) {
        this.cache.delete(key);
        throw new AuthenticationError("the token has expired", true);
      }
      // Most recently used last: eviction takes from the front.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return checkAudience(hit, audience);
    }
    return this.verifyFully(token).then((verified) => {
      this.remember(key, verified);
      return checkAudience(verified, audience);
    });
  }

  private async verifyFully(token: string): Promise<VerifiedToken> {
    const { decodeJwt, jwtVerify, errors } = await loadJose();
    let issuer: string | undefined;
    try {
      const iss = decodeJwt(token).iss;
      issuer = typeof iss === "string" ? iss : undefined;
    } catch {
      throw new AuthenticationError("the token is not a JWT", true);
    }
    const getKey = issuer === undefined ? undefined : this.issuers.get(issuer);
    if (issuer === undefined || getKey === undefined) {
      throw new AuthenticationError(
        issuer === undefined ? "the token names no issuer" : `issuer ${issuer} is not trusted`,
        true,
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer,
        algorithms: ALGORITHMS,
        clockTolerance: this.toleranceSec,
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(this.now()),
      }));
    } catch (error) {
      throw new AuthenticationError(reasonOf(error, errors), true);
    }
    const aud = payload.aud;
    return Object.freeze({
      iss: issuer,
      sub: String(payload.sub),
      aud: Object.freeze(typeof aud === "string" ? [aud] : Array.isArray(aud) ? [...aud] : []),
      exp: payload.exp!,
      claims: Object.freeze(payload),
    });
  }

  private remember(key: string, verified: VerifiedToken): void {
    this.cache.set(key, verified);
    if (this.cache.size > this.cacheSize) {
      this.cache.delete(this.cache.keys().next().value!);
    }
  }
}

function checkAudience(token: VerifiedToken, audience: string): VerifiedToken {
  if (!token.aud.includes(audience)) {
    throw new AuthenticationError(`the token's audience is not ${audience}`, true);
  }
  return token;
}

/** Why jose refused a token, in words that name no part of it. */
function reasonOf(error: unknown, errors: Jose["errors"]): string {
  if (error instanceof IssuerUnavailableError || error instanceof NoMatchingKeyError) {
    return error.message;
  }
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `the token's ${error.claim} claim is not valid (${error.reason})`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return "the token's signature does not verify";
  }
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return "no key of the issuer matches the token";
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not accepted";
  if (error instanceof errors.JOSENotSupported) return "the token uses an unsupported algorithm";
  if (error instanceof errors.JWTInvalid || error instanceof errors.JWSInvalid) {
    return "the token is not a valid JWT";
  }
  return "the token does not verify";
}
