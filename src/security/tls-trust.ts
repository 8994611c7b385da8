/**
 * What a delivery trusts and whether it may go out in clear text (CONTRACT §10), answered for the
 * dispatcher (delivery/tls-agents.ts's TransportPolicy) from the resources:
 *
 * - every Destination with `CACerts`, wherever it sits in a spec (subscriber, reply, sink,
 *   dead-letter sink, flow steps), adds its certificates to what deliveries from its namespace
 *   to its URL trust. Keyed by namespace as well as URL, so one namespace's manifests never widen
 *   what another's deliveries accept;
 * - deliveries to Eventail's own addresses trust the certificates of its --tls-cert file, so a
 *   reply or a flow step sent to itself verifies against the certificate it serves;
 * - `transport-encryption: strict` refuses http:// destinations.
 */
import { parseCaCerts } from "../resources/ca-certs.js";
import type { ResourceChange, ResourceStore } from "../resources/store.js";
import type { Destination, Resource } from "../resources/types.js";
import { type TransportEncryption, transportEncryptionOf } from "./tls-features.js";

type ResolveDestination = (dest: Destination, namespace: string, baseUrl: string) => string;

/** Manifests nest Destinations a few levels deep; nothing legitimate comes close to this. */
const MAX_DEPTH = 24;

export class TransportTrust {
  private mode: TransportEncryption = "disabled";
  /** `namespace\0url` → the declaring resources' certificates, by resource id. */
  private readonly declared = new Map<string, Map<string, readonly string[]>>();
  /** Resource id → the keys it declared, to undo them when it changes. */
  private readonly keysOf = new Map<string, readonly string[]>();
  /** `namespace\0url` → the bundle handed out (memoized; cleared on any change). */
  private readonly bundles = new Map<string, string | undefined>();
  private ownOrigin: string | undefined;
  private ownCerts: readonly string[] = [];
  private baseUrl = "";

  constructor(private readonly resolve: ResolveDestination) {}

  get transportEncryption(): TransportEncryption {
    return this.mode;
  }

  get refuseCleartext(): boolean {
    return this.mode === "strict";
  }

  /** The certificates of the file Eventail serves (chain included), or none without TLS. */
  setOwnCertificate(certPem: string | undefined): void {
    const parsed = certPem === undefined ? undefined : parseCaCerts(certPem);
    this.ownCerts = parsed !== undefined && "certs" in parsed ? parsed.certs : [];
    this.bundles.clear();
  }

  /**
   * Follows the store from now on (its current content first); `baseUrl` is Eventail's own, which
   * refs resolve against. Returns the unsubscribe.
   */
  follow(store: ResourceStore, baseUrl: string): () => void {
    this.baseUrl = baseUrl;
    this.ownOrigin = new URL(baseUrl).origin;
    this.bundles.clear();
    for (const resource of store.all()) this.index(resource);
    this.mode = transportEncryptionOf(store.list("ConfigMap"));
    const listener = (changes: readonly ResourceChange[]) => {
      for (const change of changes) {
        this.forget(change.type === "modified" ? change.previous : change.resource);
        if (change.type !== "deleted") this.index(change.resource);
      }
      this.mode = transportEncryptionOf(store.list("ConfigMap"));
      this.bundles.clear();
    };
    store.on("changes", listener);
    return () => store.off("changes", listener);
  }

  caCertsFor(namespace: string, url: string): string | undefined {
    const key = `${namespace}\u0000${url}`;
    if (this.bundles.has(key)) return this.bundles.get(key);
    const certs = new Set<string>();
    for (const list of this.declared.get(key)?.values() ?? [])
      for (const cert of list) certs.add(cert);
    if (this.ownOrigin !== undefined && originOf(url) === this.ownOrigin) {
      for (const cert of this.ownCerts) certs.add(cert);
    }
    // Sorted, so the same certificates make the same bundle and share one connection pool.
    const bundle = certs.size === 0 ? undefined : [...certs].sort().join("");
    if (this.bundles.size >= 10_000) this.bundles.clear();
    this.bundles.set(key, bundle);
    return bundle;
  }

  private index(resource: Resource): void {
    const id = idOf(resource);
    const namespace = resource.metadata.namespace;
    const keys: string[] = [];
    for (const dest of destinationsWithCaCerts(resource.spec, 0)) {
      const parsed = parseCaCerts(dest.CACerts!);
      if (!("certs" in parsed)) continue; // validation reports it
      let url: string;
      try {
        url = this.resolve(dest, namespace, this.baseUrl);
      } catch {
        continue; // validation reports it
      }
      const key = `${namespace}\u0000${url}`;
      const byResource = this.declared.get(key) ?? new Map<string, readonly string[]>();
      this.declared.set(key, byResource);
      byResource.set(id, [...(byResource.get(id) ?? []), ...parsed.certs]);
      keys.push(key);
    }
    if (keys.length > 0) this.keysOf.set(id, keys);
  }

  private forget(resource: Resource): void {
    const id = idOf(resource);
    for (const key of this.keysOf.get(id) ?? []) {
      const byResource = this.declared.get(key);
      byResource?.delete(id);
      if (byResource?.size === 0) this.declared.delete(key);
    }
    this.keysOf.delete(id);
  }
}

function idOf(resource: Resource): string {
  return `${resource.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
}

function originOf(url: string): string | undefined {
  return URL.canParse(url) ? new URL(url).origin : undefined;
}

/** Every object under `value` shaped like a Destination that carries CACerts. */
function* destinationsWithCaCerts(value: unknown, depth: number): Generator<Destination> {
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) yield* destinationsWithCaCerts(item, depth + 1);
    return;
  }
  const fields = value as Record<string, unknown>;
  if (typeof fields["CACerts"] === "string" && (fields["uri"] !== undefined || fields["ref"])) {
    yield fields as unknown as Destination;
  }
  for (const child of Object.values(fields)) yield* destinationsWithCaCerts(child, depth + 1);
}
