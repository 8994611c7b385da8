/**
 * The tokens deliveries carry (CONTRACT §10): signed by Eventail's issuer, `sub` the sending
 * resource's OIDC identity, `aud` the destination's audience, valid one hour. One token per
 * (subject, audience), reused until it is within the renewal margin of its expiry; at most
 * `maxEntries` pairs are kept (a bound against churn, far above what manifests name).
 */
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
  /** `Bearer <token>`, built once: deliveries send this string as it is. */
  readonly header: string;
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
    return this.entry(sub, aud).token;
  }

  /** The same token as an Authorization header value, `Bearer <token>`. */
  header(sub: string, aud: string): string {
    return this.entry(sub, aud).header;
  }

  private entry(sub: string, aud: string): Entry {
    const key = `${sub}\n${aud}`;
    const now = this.now();
    const cached = this.cache.get(key);
    if (cached !== undefined && now < cached.renewAt) return cached;
    const iat = Math.floor(now / 1000);
    const exp = iat + this.ttlSec;
    // No jti: one token serves every delivery of the pair for the hour, so an id would identify
    // nothing, and Knative's receivers check iss, aud, exp and sub only. Every byte of the token
    // is sent with every delivery.
    const token = this.ring.sign({ iss: this.issuer, sub, aud, iat, exp });
    if (cached === undefined && this.cache.size >= this.maxEntries) {
      this.cache.delete(this.cache.keys().next().value!);
    }
    const entry = { token, header: `Bearer ${token}`, renewAt: (exp - this.renewBeforeSec) * 1000 };
    this.cache.set(key, entry);
    return entry;
  }
}
