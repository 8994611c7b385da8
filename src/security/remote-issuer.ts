/**
 * An external OIDC issuer (config-features `eventail-oidc-issuers`): its discovery document and
 * JWK Set, fetched with undici and cached. A token naming a `kid` the cache lacks makes Eventail
 * fetch the set again (the issuer rotated its keys), but at most once per refetch interval
 * (30 s) per issuer, whatever the number of such tokens: a flood of random `kid`s costs the
 * issuer one request per interval, and costs Eventail no waiting past the first.
 */
import type { createLocalJWKSet, JSONWebKeySet, JWTVerifyGetKey } from "jose";
import type { Logger } from "../observability/logger.js";
import { loadJose } from "./jose-loader.js";
import { type Discovery, parseDiscovery, parseJwks } from "./oidc-documents.js";

export interface RemoteIssuerOptions {
  /** Least time between two fetches of this issuer's documents; default 30 s. */
  readonly refetchIntervalMs?: number;
  /** Keys older than this are fetched again on next use (still bounded); default 10 min. */
  readonly maxAgeMs?: number;
  /** Bounds each HTTP request, body included; default 5 s. */
  readonly timeoutMs?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** Why a token of this issuer cannot be verified now; the message names no token content. */
export class IssuerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IssuerUnavailableError";
  }
}

/** The most of a document read; a real discovery document or key set is a few KiB. */
const MAX_DOCUMENT_BYTES = 256 * 1024;

type LocalSet = ReturnType<typeof createLocalJWKSet>;

export class RemoteIssuer {
  private discovery: Discovery | undefined;
  private keys: { set: LocalSet; kids: ReadonlySet<string>; at: number } | undefined;
  private lastFetch = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private readonly refetchIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Requests made to the issuer (discovery and JWK Set alike), for tests and logs. */
  fetches = 0;

  constructor(
    readonly issuer: string,
    private readonly options: RemoteIssuerOptions = {},
  ) {
    this.refetchIntervalMs = options.refetchIntervalMs ?? 30_000;
    this.maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  /** jose's key lookup for jwtVerify: the cached set, refreshed within the bound. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    const kid = header.kid;
    const cached = this.keys;
    const fresh = cached !== undefined && this.now() - cached.at < this.maxAgeMs;
    const known = cached !== undefined && (kid === undefined || cached.kids.has(kid));
    if (!(fresh && known) && this.now() - this.lastFetch >= this.refetchIntervalMs) {
      await this.refresh();
    }
    const keys = this.keys;
    if (keys === undefined) {
      throw new IssuerUnavailableError(`the keys of issuer ${this.issuer} could not be fetched`);
    }
    return keys.set(header, token);
  };

  /** Fetches discovery (once it succeeded, it is kept) and the key set; one at a time. */
  private refresh(): Promise<void> {
    this.inflight ??= this.fetchAll().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async fetchAll(): Promise<void> {
    this.lastFetch = this.now();
    try {
      if (this.discovery === undefined) {
        const base = this.issuer.replace(/\/+$/, "");
        this.discovery = parseDiscovery(
          await this.get(`${base}/.well-known/openid-configuration`),
          this.issuer,
        );
      }
      const document = parseJwks(await this.get(this.discovery.jwksUri));
      const kids = new Set(document.keys.flatMap((key) => (key.kid ? [key.kid] : [])));
      const { createLocalJWKSet } = await loadJose();
      this.keys = { set: createLocalJWKSet(document as JSONWebKeySet), kids, at: this.now() };
    } catch (error) {
      // The keys fetched before (if any) keep serving; the bound keeps retries spaced.
      this.options.logger?.warn(
        { issuer: this.issuer, reason: (error as Error).message },
        "could not fetch the keys of an OIDC issuer",
      );
    }
  }

  private async get(url: string): Promise<Buffer> {
    this.fetches++;
    // undici's package entry weighs megabytes of idle memory: loaded only once an issuer is used.
    const { request } = await import("undici");
    const response = await request(url, {
      method: "GET",
      headers: { accept: "application/json" },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new IssuerUnavailableError(`GET ${url} answered ${response.statusCode}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_DOCUMENT_BYTES) {
        response.body.destroy();
        throw new IssuerUnavailableError(
          `GET ${url} answered more than ${MAX_DOCUMENT_BYTES} bytes`,
        );
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }
}
