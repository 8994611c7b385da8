import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import type { BackingConfig, EngineLease } from "../backing.js";
import { createRedisConnection, waitUntilReady } from "./connection.js";
import { parseRedisSettings } from "./settings.js";

/**
 * Input: KEYS[1] the lease key; ARGV[1] the holder; ARGV[2] the term in ms.
 * Output: 1 when ARGV[1] holds the lease for a new term, 0 when another holder has it.
 * One script, so no other holder can slip between the read and the write.
 */
const ACQUIRE_OR_RENEW = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Input: KEYS[1] the lease key; ARGV[1] the holder. Output: 1 when it was deleted. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

type LeaseCommands = Redis & {
  eventailLeaseAcquire(key: string, holder: string, ttlMs: number): Promise<number>;
  eventailLeaseRelease(key: string, holder: string): Promise<number>;
};

/**
 * The lease as one Redis key holding its holder's id, with a PX expiry of one term: the key
 * vanishing is the lease expiring. Its own connection, so a cut that takes the lease away is
 * noticed here and not hidden by a busy data-path connection.
 */
export class RedisLease implements EngineLease {
  readonly holder = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  private readonly redis: LeaseCommands;
  private readonly key: string;
  private readonly timeoutMs: number;

  constructor(
    config: BackingConfig,
    name: string,
    private readonly ttlMs: number,
    logger: Logger,
  ) {
    this.key = `eventail:lease:${name}`;
    const settings = parseRedisSettings(config);
    this.timeoutMs = settings.commandTimeoutMs;
    const redis = createRedisConnection(settings, logger, "lease");
    redis.defineCommand("eventailLeaseAcquire", { numberOfKeys: 1, lua: ACQUIRE_OR_RENEW });
    redis.defineCommand("eventailLeaseRelease", { numberOfKeys: 1, lua: RELEASE });
    this.redis = redis as LeaseCommands;
  }

  async tryAcquireOrRenew(): Promise<boolean> {
    // Commands fail fast while disconnected (no offline queue): the first one waits for the socket.
    if (this.redis.status !== "ready") {
      await waitUntilReady(this.redis, this.timeoutMs, { untilError: true });
    }
    return (await this.redis.eventailLeaseAcquire(this.key, this.holder, this.ttlMs)) === 1;
  }

  async release(): Promise<void> {
    await this.redis.eventailLeaseRelease(this.key, this.holder);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
