import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Channel, ChannelModel } from "amqplib";
import type { Logger } from "../../observability/logger.js";
import type { BackingConfig, EngineLease } from "../backing.js";
import { RabbitConnector, withTimeout } from "./connection.js";
import { parseRabbitSettings } from "./settings.js";

/** AMQP RESOURCE_LOCKED: another connection owns the exclusive queue. */
const RESOURCE_LOCKED = 405;

/**
 * The lease as an exclusive queue: only one connection may declare it, and RabbitMQ deletes it
 * when that connection goes (closed, or silent for a heartbeat timeout, asked here to be the
 * term whatever the URL says, so a holder cut off steps down, at two thirds of it, before the
 * queue is gone). A server may lower the heartbeat: then the holder steps down after two thirds
 * of the negotiated one (maxSilenceMs), still before the queue can go, renewing often enough
 * not to between renewals. Others get RESOURCE_LOCKED and try again at their next check.
 * Renewing is a round trip on the owning connection: while it answers, the queue is ours.
 */
export class RabbitLease implements EngineLease {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly connector: RabbitConnector;
  private readonly queue: string;
  private readonly timeoutMs: number;
  /** The channel that declared the queue and its connection, while this holder has it. */
  private held: { model: ChannelModel; channel: Channel } | undefined;
  private readonly lost = new Set<() => void>();
  private readonly logger: Logger;
  /** The heartbeat (s) the server agreed to on the current connection; 0: none. */
  private heartbeatSeconds: number | undefined;
  private warnedHeartbeat = false;

  constructor(
    config: BackingConfig,
    name: string,
    private readonly ttlMs: number,
    logger: Logger,
  ) {
    const settings = parseRabbitSettings(config);
    this.timeoutMs = settings.publishTimeoutMs;
    this.queue = `eventail.lease.${name}`;
    this.logger = logger.child({ lease: name });
    // The URL's heartbeat is the data path's: a lower one would let RabbitMQ drop a silent
    // holder's queue before the holder steps down.
    const url = new URL(settings.url);
    url.searchParams.delete("heartbeat");
    this.connector = new RabbitConnector(
      {
        ...settings,
        url: url.toString(),
        heartbeatSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
      },
      this.logger,
    );
  }

  maxSilenceMs(): number | undefined {
    const seconds = this.heartbeatSeconds;
    // 0: no heartbeat, the queue stays until TCP gives the connection up (later, never sooner).
    if (!seconds || seconds * 1000 >= this.ttlMs) return undefined;
    return (seconds * 1000 * 2) / 3;
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    const model = await this.connector.connected({ timeoutMs: this.timeoutMs });
    this.heartbeatSeconds = (
      model as unknown as { connection: { heartbeat?: number } }
    ).connection.heartbeat;
    const silenceMs = this.maxSilenceMs();
    if (silenceMs !== undefined && !this.warnedHeartbeat) {
      this.warnedHeartbeat = true;
      this.logger.warn(
        { heartbeatSeconds: this.heartbeatSeconds, termMs: this.ttlMs },
        "RabbitMQ lowered the lease connection's heartbeat below the lease term: the leader renews more often and steps down after two thirds of the heartbeat without renewing",
      );
    }
    if (this.held?.model === model) {
      await withTimeout(this.held.channel.checkQueue(this.queue), this.timeoutMs, "lease");
      return true;
    }
    this.held = undefined;
    const channel = await withTimeout(model.createChannel(), this.timeoutMs, "lease");
    // RESOURCE_LOCKED closes the channel with an error; it is answered below, not thrown here.
    channel.on("error", () => undefined);
    // RabbitMQ deletes the queue as soon as it sees the connection close: so does this holder
    // step down, rather than at its renew deadline.
    channel.on("close", () => {
      if (this.held?.channel !== channel) return;
      this.held = undefined;
      for (const listener of this.lost) listener();
    });
    try {
      await withTimeout(
        channel.assertQueue(this.queue, {
          exclusive: true,
          durable: false,
          autoDelete: false,
          // Quorum queues cannot be exclusive: keep a vhost's default queue type out of it.
          arguments: { "x-queue-type": "classic" },
        }),
        this.timeoutMs,
        "lease",
      );
    } catch (error) {
      await channel.close().catch(() => undefined);
      if ((error as { code?: number }).code === RESOURCE_LOCKED) return false;
      throw error;
    }
    this.held = { model, channel };
    return true;
  }

  onLost(listener: () => void): void {
    this.lost.add(listener);
  }

  async release(): Promise<void> {
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    await withTimeout(held.channel.deleteQueue(this.queue), this.timeoutMs, "lease").catch(
      () => undefined,
    );
    await held.channel.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.connector.close();
  }
}
