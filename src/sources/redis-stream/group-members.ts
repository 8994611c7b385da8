import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";

/*
 * How the consumers of one RedisStreamSource group share it across replicas (several `eventail
 * run` on one configuration, or the controller's replicas): every source instance reads under
 * names of its own, marks the entries it is delivering as worked on, and claims the entries a
 * consumer that went away left pending once they have been idle for CLAIM_IDLE_MS.
 *
 * The Lua scripts run atomically, which is what makes "touch only if still mine" and "remove a
 * consumer only if it owns nothing" free of races with the other replicas. They live here as
 * string constants because tsc does not copy .lua files to dist/.
 */

/** A pending entry idle this long belongs to a consumer that went away: another claims it. */
export const CLAIM_IDLE_MS = 15_000;
/** How often an entry being delivered is marked as worked on, well within CLAIM_IDLE_MS. */
export const TOUCH_INTERVAL_MS = 2_000;
/** How often each consumer looks for entries to claim. */
export const CLAIM_INTERVAL_MS = 5_000;
/** Consumers that own nothing and have been silent this long are removed from the group. */
export const CONSUMER_EXPIRY_MS = 3_600_000;

/**
 * The consumer names of one source instance: `${group}-${host}:${pid}:${random}-${index}`. The
 * host (the pod's name in Kubernetes) and pid say which replica reads as it; the random part
 * keeps two instances of one process apart (a restarted source, a test's two runtimes).
 */
export function consumerNames(group: string, count: number): string[] {
  const member = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  return Array.from({ length: count }, (_, index) => `${group}-${member}-${index}`);
}

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id, ARGV[4] idle ms.
 * Output: 1 when the consumer still owned the entry (its idle time is now ARGV[4]), else 0.
 * Idle 0 keeps other replicas' claims away from an entry under delivery; CLAIM_IDLE_MS hands
 * an entry back for them to claim at once.
 */
const TOUCH = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'IDLE', ARGV[4], 'JUSTID')
return 1
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] consumer.
 * Output: 1 when the consumer was removed, 0 when it owns entries (left for others to claim).
 */
const RETIRE = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] expiry ms.
 * Output: the number of consumers removed: those owning nothing and silent longer than ARGV[2]
 * (a live consumer is never silent that long: each blocking read counts as activity).
 */
const EXPIRE = `
local removed = 0
for _, raw in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local member = {}
  for i = 1, #raw, 2 do member[raw[i]] = raw[i + 1] end
  if member['pending'] == 0 and member['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], member['name'])
    removed = removed + 1
  end
end
return removed
`;

export async function touchEntry(
  redis: Redis,
  stream: string,
  group: string,
  consumer: string,
  id: string,
  idleMs: number,
): Promise<boolean> {
  return (await redis.eval(TOUCH, 1, stream, group, consumer, id, idleMs)) === 1;
}

export async function retireConsumer(
  redis: Redis,
  stream: string,
  group: string,
  consumer: string,
): Promise<boolean> {
  return (await redis.eval(RETIRE, 1, stream, group, consumer)) === 1;
}

export async function expireConsumers(
  redis: Redis,
  stream: string,
  group: string,
  expiryMs = CONSUMER_EXPIRY_MS,
): Promise<number> {
  return Number(await redis.eval(EXPIRE, 1, stream, group, expiryMs));
}
