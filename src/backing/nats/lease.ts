import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { type KV, StorageType } from "nats";
import type { Logger } from "../../observability/logger.js";
import type { BackingConfig, EngineLease } from "../backing.js";
import { NatsConnector, type NatsLink } from "./connection.js";
import { parseNatsSettings } from "./settings.js";

/** JetStream's "wrong last sequence": the key exists, or changed since the revision given. */
const WRONG_LAST_SEQUENCE = 10071;

function wrongLastSequence(error: unknown): boolean {
  return (
    (error as { api_error?: { err_code?: number } }).api_error?.err_code === WRONG_LAST_SEQUENCE
  );
}

/** One bucket for every lease, whatever its term: processes that disagree on it still meet. */
export const LEASE_BUCKET = "eventail-leases";

/**
 * The lease as one key of a JetStream KV bucket holding its holder's id: creating the key fails
 * while it exists, and a renewal is an update on the revision this holder wrote last (so it
 * fails once anyone else wrote). The term is not the bucket's max age (a bucket per term let
 * processes with different terms lead at once): as client-go does with a Lease, a follower
 * counts it on its own monotonic clock from when it first saw the key's current revision, and
 * takes a key unchanged for a whole term with an update on that revision, which one taker wins.
 * No wall clocks are compared, so hosts need not agree on the time.
 */
export class NatsLease implements EngineLease {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly connector: NatsConnector;
  private readonly timeoutMs: number;
  private readonly replicas: number;
  private bucket: { link: NatsLink; kv: Promise<KV> } | undefined;
  /** The revision of this holder's last write, while it believes it holds the lease. */
  private revision: number | undefined;
  /** Another holder's revision, and when (performance.now) this process first saw it. */
  private observed: { revision: number; at: number } | undefined;

  constructor(
    config: BackingConfig,
    private readonly name: string,
    private readonly ttlMs: number,
    logger: Logger,
  ) {
    const settings = parseNatsSettings(config);
    this.timeoutMs = settings.publishTimeoutMs;
    this.replicas = settings.replicas;
    this.connector = new NatsConnector(settings, logger.child({ lease: name }));
  }

  private async kv(): Promise<KV> {
    const link = await this.connector.connected({ timeoutMs: this.timeoutMs });
    if (this.bucket?.link !== link) {
      const kv = link.js.views.kv(LEASE_BUCKET, {
        history: 1,
        replicas: this.replicas,
        storage: StorageType.File,
      });
      kv.catch(() => {
        if (this.bucket?.kv === kv) this.bucket = undefined;
      });
      this.bucket = { link, kv };
    }
    return this.bucket.kv;
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const kv = await this.kv();
    if (this.revision !== undefined) {
      try {
        this.revision = await kv.update(this.name, this.holder, this.revision);
        return true;
      } catch (error) {
        // Any other failure (a timeout, a JetStream leader change) may have written all the
        // same: the revision stays, and the next renewal finds out.
        if (!wrongLastSequence(error)) throw error;
        this.revision = undefined;
      }
    }
    const entry = await kv.get(this.name);
    if (entry === null || entry.operation !== "PUT") {
      return this.write(() => kv.create(this.name, this.holder));
    }
    // Ours: a write whose answer was lost landed. Renew on it rather than wait for it to expire.
    if (entry.string() === this.holder) {
      return this.write(() => kv.update(this.name, this.holder, entry.revision));
    }
    const now = performance.now();
    if (this.observed?.revision !== entry.revision) {
      this.observed = { revision: entry.revision, at: now };
      return false;
    }
    // Its holder has not renewed for a term as seen from here: it stepped down a third ago.
    if (now - this.observed.at < this.ttlMs) return false;
    return this.write(() => kv.update(this.name, this.holder, entry.revision));
  }

  /** A write that takes the lease; false when another one got in first. */
  private async write(attempt: () => Promise<number>): Promise<boolean> {
    try {
      this.revision = await attempt();
      this.observed = undefined;
      return true;
    } catch (error) {
      if (wrongLastSequence(error)) return false;
      throw error;
    }
  }

  async release(): Promise<void> {
    const revision = this.revision;
    this.revision = undefined;
    if (revision === undefined) return;
    try {
      await (await this.kv()).delete(this.name, { previousSeq: revision });
    } catch (error) {
      if (!wrongLastSequence(error)) throw error;
    }
  }

  async close(): Promise<void> {
    await this.connector.close();
  }
}
