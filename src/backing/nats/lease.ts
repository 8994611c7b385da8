import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
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

/**
 * The lease as one key of a JetStream KV bucket whose max age is the term: creating the key
 * fails while it exists, a renewal is an update on the revision this holder wrote last (so it
 * fails once anyone else wrote), and JetStream removes a key nobody renewed for a term. One
 * bucket per term length, since the term is the bucket's.
 */
export class NatsLease implements EngineLease {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly connector: NatsConnector;
  private readonly timeoutMs: number;
  private bucket: { link: NatsLink; kv: Promise<KV> } | undefined;
  /** The revision of this holder's last write, while it believes it holds the lease. */
  private revision: number | undefined;

  constructor(
    config: BackingConfig,
    private readonly name: string,
    private readonly ttlMs: number,
    logger: Logger,
  ) {
    const settings = parseNatsSettings(config);
    this.timeoutMs = settings.publishTimeoutMs;
    this.connector = new NatsConnector(settings, logger.child({ lease: name }));
  }

  private async kv(): Promise<KV> {
    const link = await this.connector.connected({ timeoutMs: this.timeoutMs });
    if (this.bucket?.link !== link) {
      const kv = link.js.views.kv(`eventail-lease-${this.ttlMs}`, {
        ttl: this.ttlMs,
        history: 1,
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
        this.revision = undefined;
        if (!wrongLastSequence(error)) throw error;
        // Lost it (expired, released, taken): try as anyone would.
      }
    }
    try {
      this.revision = await kv.create(this.name, this.holder);
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
