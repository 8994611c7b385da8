/**
 * The tokens deliveries carry (CONTRACT §10): signed by Eventail's issuer, `sub` the sending
 * resource's OIDC identity, `aud` the destination's audience, valid one hour. One token per
 * (subject, audience), reused until it is within the renewal margin of its expiry; at most
 * `maxEntries` pairs are kept (a bound against churn, far above what manifests name).
 */
import { randomUUID } from "node:crypto";
import type { KeyRing } from "./signing-keys.js";

export interface OutboundTokenOptions {
  /** Lifetime of a token; default 3600 s. */
  readonly ttlSec?: number;
  /** A token this close to its expiry is replaced; default 300 s. */
  readonly renewBeforeSec?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly token: string;
  /** ms */
  readonly renewAt: number;
}

export class OutboundTokens {
  private readonly cache = new Map<string, Entry>();
  private issuer = "";
  private readonly ttlSec: number;
  private readonly renewBeforeSec: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    private readonly ring: KeyRing,
    options: OutboundTokenOptions = {},
  ) {
    this.ttlSec = options.ttlSec ?? 3600;
    this.renewBeforeSec = Math.min(options.renewBeforeSec ?? 300, this.ttlSec / 2);
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** The `iss` of the tokens; a change starts a new set of tokens. */
  setIssuer(issuer: string): void {
    if (issuer === this.issuer) return;
    this.issuer = issuer;
    this.cache.clear();
  }

  /** A valid token for `sub` towards `aud`, signed now only when the cached one needs renewing. */
  token(sub: string, aud: string): string {
    const key = `${sub}\n${aud}`;
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached !== undefined && now < cached.renewAt) return cached.token;
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSec;
    const token = this.ring.sign({ iss: this.issuer, sub, aud, iat, exp, jti: randomUUID() });
    if (cached === undefined && this.cache.size >= this.maxEntries) {
      this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, { token, renewAt: (exp - this.renewBeforeSec) * 1000 });
    return token;
  }
}
