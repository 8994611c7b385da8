/**
 * CONTRACT §10 in one place: the feature flags, Eventail's issuer (keys, discovery, JWKS), the
 * trusted external issuers, inbound verification and EventPolicy authorization, and the tokens
 * deliveries carry. The runtime feeds it each new configuration (`configure`, on every store
 * change, before the reconciler acts on it); the HTTP surfaces and the Dispatcher ask it.
 */
import type { JWTVerifyGetKey } from "jose";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { addressOf } from "../resources/addresses.js";
import {
  DEFAULT_FEATURES,
  FEATURES_NAME,
  FEATURES_NAMESPACE,
  type Features,
  readFeatures,
} from "../resources/features.js";
import { groupOf } from "../resources/status.js";
import type { Resource } from "../resources/types.js";
import { type Addressable, AddressBook, type GuardedAddress } from "./address-book.js";
import { API_AUDIENCE } from "./api-guard.js";
import { parseBearer } from "./bearer.js";
import { audienceKey, explicitAudiences } from "./destination-audiences.js";
import { AuthenticationError, AuthorizationError } from "./errors.js";
import {
  type AuthorizationMode,
  authorize,
  compilePolicy,
  type FromReference,
} from "./event-policy.js";
import { loadJose } from "./jose-loader.js";
import {
  ensureStateKeys,
  exposedStateKeys,
  publishAheadOf,
  secretKeys,
  signingSecret,
  writeIssuerRecord,
} from "./key-store.js";
import { oidcSubject } from "./oidc-identity.js";
import { OutboundTokens } from "./outbound-tokens.js";
import { RemoteIssuer } from "./remote-issuer.js";
import { DEFAULT_PUBLISH_AHEAD_MS, KeyRing, type SigningKey } from "./signing-keys.js";
import { NoMatchingKeyError, TokenVerifier, type VerifiedToken } from "./token-verifier.js";

export interface SecurityOptions {
  readonly logger: Logger;
  /** Where a generated signing key is kept (`$EVENTAIL_STATE_DIR`). */
  readonly stateDir: string;
  /** `--public-url`: the issuer and the base of addresses shown in status. */
  readonly publicUrl?: string;
  /** External issuers' least time between two fetches (default 30 s). */
  readonly refetchIntervalMs?: number;
  /** Where the signing-key Secret must be (Kubernetes mode: the controller's namespace). */
  readonly signingKeyNamespace?: string;
  readonly now?: () => number;
}

export interface SecurityConfiguration {
  readonly resources: readonly Resource[];
  readonly addressables: readonly Addressable[];
  /** The OIDC subjects an EventPolicy `from.ref` stands for. */
  readonly subjectsOf: (ref: FromReference) => readonly string[];
}

/** Who a delivery is for, as the Dispatcher labels it (DeliveryLabels). */
export interface SenderLabels {
  readonly namespace: string;
  readonly kind: string;
  readonly name: string;
}

const SENDER_KINDS: Readonly<Record<string, { group: string; kind: string }>> = {
  trigger: { group: "eventing.knative.dev", kind: "Trigger" },
  subscription: { group: "messaging.knative.dev", kind: "Subscription" },
};

const MAX_CACHED_URLS = 10_000;

export class Security {
  readonly keyRing: KeyRing;
  readonly verifier: TokenVerifier;
  private readonly outbound: OutboundTokens;
  private readonly remotes = new Map<string, RemoteIssuer>();
  private features: Features = DEFAULT_FEATURES;
  private book = new AddressBook([], []);
  private audiences = new Map<string, string>();
  /** audienceOf's answers; emptied with every configuration and server URL. */
  private readonly urlAudiences = new Map<string, string>();
  /** `kind/namespace/name` (kind lower case) → the resource's group and kind. */
  private kinds = new Map<string, { group: string; kind: string }>();
  private readonly senders = new Map<string, string>();
  private kids = "";
  private serverUrl = "";
  private keysFromState = false;
  /** The `iss` values the verifier trusts now, to notice a change. */
  private trusted = "";

  constructor(private readonly options: SecurityOptions) {
    this.keyRing = new KeyRing({ ...(options.now ? { now: options.now } : {}) });
    this.verifier = new TokenVerifier({ ...(options.now ? { now: options.now } : {}) });
    this.outbound = new OutboundTokens(this.keyRing, {
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** The iss of Eventail's tokens: `--public-url`, else the server's own URL. */
  get issuer(): string {
    return (this.options.publicUrl ?? this.serverUrl).replace(/\/+$/, "");
  }

  /** Where clients reach this server: the base of the addresses shown in status. */
  get baseUrl(): string {
    return this.issuer;
  }

  /** config-features `authentication-oidc: enabled`. */
  enabled(): boolean {
    return this.features["authentication-oidc"] === "enabled";
  }

  get authorizationMode(): AuthorizationMode {
    return this.features["default-authorization-mode"];
  }

  /** Once the server listens: its URL (the issuer unless --public-url says otherwise). */
  setServerUrl(url: string): void {
    this.serverUrl = url;
    this.urlAudiences.clear();
    this.outbound.setIssuer(this.issuer);
    this.trustIssuers();
    if (this.keysFromState) this.recordIssuer();
  }

  /**
   * Applies a configuration. Throws when the signing keys cannot be had (an unreadable state
   * dir); the caller keeps the previous configuration then.
   */
  configure(config: SecurityConfiguration): void {
    const { resources } = config;
    const features = readFeatures(
      resources.find(
        (r) =>
          r.kind === "ConfigMap" &&
          r.metadata.namespace === FEATURES_NAMESPACE &&
          r.metadata.name === FEATURES_NAME,
      )?.data,
    );
    const wasEnabled = this.enabled();
    // Flags and policies apply even when the keys cannot be had: authentication asked for stays
    // on (requests fail closed), and the error still reaches the caller below.
    this.features = features;
    let keyError: unknown;
    try {
      this.loadKeys(resources, this.enabled());
    } catch (error) {
      keyError = error;
    }
    const policies = resources
      .filter((r) => r.kind === "EventPolicy")
      .map((r) => compilePolicy(r, config.subjectsOf));
    this.book = new AddressBook(config.addressables, policies);
    this.audiences = explicitAudiences(resources, this.serverUrl || "http://127.0.0.1");
    this.kinds = new Map(
      resources.map((r) => [
        `${r.kind.toLowerCase()}/${r.metadata.namespace}/${r.metadata.name}`,
        { group: groupOf(r.apiVersion), kind: r.kind },
      ]),
    );
    this.senders.clear();
    this.urlAudiences.clear();
    this.trustIssuers();
    if (this.enabled()) void loadJose();
    if (wasEnabled !== this.enabled()) {
      this.options.logger.info(
        { authentication: this.enabled() ? "enabled" : "disabled" },
        "authentication-oidc changed",
      );
    }
    this.warnAboutConfiguration(policies.length);
    if (keyError !== undefined) throw keyError;
  }

  /** What a security reviewer would want said once per configuration. */
  private warnAboutConfiguration(policies: number): void {
    const { logger } = this.options;
    if (policies > 0 && !this.enabled()) {
      logger.warn(
        { policies },
        "EventPolicies have no effect while config-features authentication-oidc is disabled",
      );
    }
    for (const url of this.features["eventail-oidc-issuers"]) {
      const { protocol, hostname } = new URL(url);
      if (protocol === "http:" && !["127.0.0.1", "localhost", "[::1]"].includes(hostname)) {
        logger.warn({ issuer: url }, "the keys of an OIDC issuer are fetched over plain http");
      }
    }
  }

  /** `/.well-known/openid-configuration` */
  discovery(): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/.well-known/jwks.json`,
      response_types_supported: ["id_token"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["ES256"],
    };
  }

  /** `/.well-known/jwks.json` */
  jwks(): { keys: unknown[] } {
    return this.keyRing.jwks();
  }

  /** The address a data-plane path serves, with its policies; undefined when none. */
  addressAt(path: string): GuardedAddress | undefined {
    return this.book.at(path);
  }

  addresses(): IterableIterator<GuardedAddress> {
    return this.book.all();
  }

  /**
   * The verified token of a request to `address` (synchronous when cached). Throws or rejects
   * with AuthenticationError.
   */
  authenticate(
    address: GuardedAddress,
    authorization: string | readonly string[] | undefined,
  ): VerifiedToken | Promise<VerifiedToken> {
    const bearer = parseBearer(authorization);
    if (bearer.kind === "missing") {
      throw new AuthenticationError(
        `a bearer token for audience ${address.addressable.address.audience} is required`,
        false,
      );
    }
    if (bearer.kind === "malformed") throw new AuthenticationError(bearer.reason, true);
    return this.verifier.verify(bearer.token, address.addressable.address.audience);
  }

  /** Throws AuthorizationError unless the token's subject may send these events here. */
  authorize(address: GuardedAddress, token: VerifiedToken, events: readonly CloudEvent[]): void {
    this.authorizeSubject(address, token.sub, events);
  }

  private authorizeSubject(
    address: GuardedAddress,
    sub: string,
    events: readonly CloudEvent[],
  ): void {
    const { addressable, policies } = address;
    const decision = authorize(
      sub,
      addressable.namespace,
      policies,
      this.authorizationMode,
      events,
    );
    if (!decision.allowed) {
      const event = events[decision.eventIndex ?? 0];
      throw new AuthorizationError(decision.reason, sub, event ? eventLogFields(event) : {});
    }
  }

  /**
   * Throws AuthorizationError unless the Broker's EventPolicies let the Trigger send `events`
   * (its replies) into it; nothing with authentication off. Knative's broker filter posts a
   * reply to the broker's ingress signed as the Trigger, where the policies apply as to any
   * sender; Eventail hands replies over in process, so it asks the same question here.
   */
  authorizeReply(
    namespace: string,
    trigger: string,
    broker: string,
    events: readonly CloudEvent[],
  ): void {
    if (!this.enabled()) return;
    const sub = this.senderSubject({ namespace, kind: "trigger", name: trigger });
    const path = addressOf({ kind: "Broker", namespace, name: broker }, "");
    const address = path === undefined ? undefined : this.book.at(path);
    if (address === undefined) {
      throw new AuthorizationError(
        `broker ${namespace}/${broker} has no address to check`,
        sub,
        {},
      );
    }
    this.authorizeSubject(address, sub, events);
  }

  /**
   * The Authorization header of a delivery by `sender` to `url`, or undefined with
   * authentication off. Synchronous: a cached token, or one signed now.
   */
  authorization(sender: SenderLabels, url: string): string | undefined {
    if (!this.enabled() || this.keyRing.size === 0) return undefined;
    return this.outbound.header(this.senderSubject(sender), this.audienceOf(sender.namespace, url));
  }

  /**
   * The audience of a destination URL as the sender's namespace names it, worked out once per
   * (namespace, URL) and configuration. Never the operations API's: a delivery token must not
   * open the API (the URL stands in for it).
   */
  private audienceOf(namespace: string, url: string): string {
    const key = audienceKey(namespace, url);
    let audience = this.urlAudiences.get(key);
    if (audience === undefined) {
      audience =
        this.audiences.get(key) ??
        this.book.audienceOfUrl(url, [this.serverUrl, this.options.publicUrl ?? ""]) ??
        url;
      if (audience === API_AUDIENCE) audience = url;
      // Destinations come from manifests; the bound only stops churn from growing it.
      if (this.urlAudiences.size >= MAX_CACHED_URLS) this.urlAudiences.clear();
      this.urlAudiences.set(key, audience);
    }
    return audience;
  }

  /** Knative's OIDC subject of the resource a delivery is for. */
  senderSubject(sender: SenderLabels): string {
    const key = `${sender.kind}\u0000${sender.namespace}\u0000${sender.name}`;
    let subject = this.senders.get(key);
    if (subject === undefined) {
      subject = this.subjectOf(sender);
      this.senders.set(key, subject);
    }
    return subject;
  }

  private subjectOf({ kind, namespace, name }: SenderLabels): string {
    const fixed = SENDER_KINDS[kind];
    if (fixed) return oidcSubject(fixed.group, fixed.kind, namespace, name);
    // Sources are labelled `source` with name `{kind lower-case}/{name}`.
    const [lowerKind, resourceName] =
      kind === "source" && name.includes("/")
        ? [name.slice(0, name.indexOf("/")), name.slice(name.indexOf("/") + 1)]
        : [kind.toLowerCase(), name];
    const found = this.kinds.get(`${lowerKind}/${namespace}/${resourceName}`);
    return found
      ? oidcSubject(found.group, found.kind, namespace, resourceName)
      : oidcSubject("", lowerKind, namespace, resourceName);
  }

  private loadKeys(resources: readonly Resource[], enabled: boolean): void {
    const secret = signingSecret(resources, this.options.signingKeyNamespace);
    let keys: SigningKey[];
    let publishAhead = DEFAULT_PUBLISH_AHEAD_MS;
    if (secret) {
      keys = secretKeys(secret);
      publishAhead = publishAheadOf(secret) ?? DEFAULT_PUBLISH_AHEAD_MS;
      this.keysFromState = false;
    } else if (enabled) {
      keys = ensureStateKeys(this.options.stateDir);
      for (const file of exposedStateKeys(this.options.stateDir)) {
        this.options.logger.warn(
          { file },
          "a signing key file is readable by other users; chmod 600 it",
        );
      }
      this.keysFromState = true;
      if (this.serverUrl !== "") this.recordIssuer();
    } else {
      keys = [];
      this.keysFromState = false;
    }
    this.keyRing.setKeys(keys, publishAhead);
    const kids = keys
      .map((key) => key.kid)
      .sort()
      .join(",");
    if (kids !== this.kids) {
      // A removed key's tokens must not keep passing from the cache.
      this.verifier.clear();
      this.kids = kids;
    }
  }

  private recordIssuer(): void {
    try {
      writeIssuerRecord(this.options.stateDir, this.issuer);
    } catch (error) {
      this.options.logger.warn(
        { reason: (error as Error).message },
        "could not record the issuer URL in the state dir",
      );
    }
  }

  /** Eventail's own issuer plus config-features `eventail-oidc-issuers`, reusing fetched keys. */
  private trustIssuers(): void {
    const wanted = this.features["eventail-oidc-issuers"].filter((url) => url !== this.issuer);
    for (const url of this.remotes.keys()) if (!wanted.includes(url)) this.remotes.delete(url);
    for (const url of wanted) {
      if (!this.remotes.has(url)) {
        this.remotes.set(
          url,
          new RemoteIssuer(url, {
            logger: this.options.logger,
            ...(this.options.refetchIntervalMs !== undefined
              ? { refetchIntervalMs: this.options.refetchIntervalMs }
              : {}),
            ...(this.options.now ? { now: this.options.now } : {}),
          }),
        );
      }
    }
    const issuers = new Map<string, JWTVerifyGetKey>();
    if (this.issuer !== "") issuers.set(this.issuer, this.ownKey);
    for (const [url, remote] of this.remotes) issuers.set(url, remote.getKey);
    const signature = [...issuers.keys()].join(" ");
    if (signature !== this.trusted) {
      this.trusted = signature;
      this.verifier.setIssuers(issuers);
    }
  }

  private readonly ownKey: JWTVerifyGetKey = (header) => {
    const key = header.kid === undefined ? undefined : this.keyRing.publicKey(header.kid);
    if (key === undefined) throw new NoMatchingKeyError();
    return key;
  };
}
