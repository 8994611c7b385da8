/**
 * Which connection pool a delivery uses (CONTRACT §10): the shared one for http:// and for
 * https:// verified against the system CAs; a pool per CA bundle for destinations with
 * `CACerts`, verified against the system CAs plus that bundle. Verification is never switched
 * off. Under `transport-encryption: strict` an http:// destination gets no pool at all.
 */
import { createSecureContext, rootCertificates } from "node:tls";
import type { AttemptTarget } from "./attempt.js";
import { Agent } from "./undici-agent.js";

/** What the dispatcher asks about a destination before it connects. */
export interface TransportPolicy {
  /** `transport-encryption: strict`: deliveries to http:// are refused. */
  readonly refuseCleartext: boolean;
  /**
   * The PEM bundle trusted (beside the system CAs) for deliveries from `namespace` to `url`, or
   * undefined. Equal bundles must be equal strings: a bundle is the key of its pool.
   */
  caCertsFor(namespace: string, url: string): string | undefined;
}

/** Distinct bundles seen in one process are few (one per private CA); this bounds the pools. */
const MAX_POOLS = 32;

export class TlsAgents {
  /** Insertion order is recency: a pool used again moves to the end. */
  private readonly pools = new Map<string, Agent>();
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly policy: TransportPolicy | undefined,
    /** Per origin; null: unbounded. */
    private readonly connections: number | null,
  ) {}

  /** The pool for this delivery, or undefined when the policy refuses it. */
  agentFor(
    plain: Agent,
    target: AttemptTarget,
    url: string,
    namespace: string | undefined,
  ): Agent | undefined {
    const policy = this.policy;
    if (policy === undefined) return plain;
    if (!target.secure) return policy.refuseCleartext ? undefined : plain;
    const bundle = namespace === undefined ? undefined : policy.caCertsFor(namespace, url);
    return bundle === undefined ? plain : this.pool(bundle);
  }

  async close(): Promise<void> {
    const agents = [...this.pools.values()];
    this.pools.clear();
    await Promise.all([...agents.map((agent) => agent.close()), ...this.closing]);
  }

  private pool(bundle: string): Agent {
    const known = this.pools.get(bundle);
    if (known !== undefined) {
      this.pools.delete(bundle);
      this.pools.set(bundle, known);
      return known;
    }
    if (this.pools.size >= MAX_POOLS) {
      const [oldest, agent] = this.pools.entries().next().value as [string, Agent];
      this.pools.delete(oldest);
      // close() lets requests in flight finish; a later delivery gets a new pool.
      const closed = agent.close().finally(() => this.closing.delete(closed));
      this.closing.add(closed);
    }
    // Node's `ca` replaces the system store rather than adding to it, so both are given; one
    // context per pool, not one per connection (parsing the system store is not free).
    const secureContext = createSecureContext({ ca: [...rootCertificates, bundle] });
    const agent = new Agent({
      connections: this.connections,
      pipelining: 1,
      connect: { secureContext, rejectUnauthorized: true },
    });
    this.pools.set(bundle, agent);
    return agent;
  }
}
