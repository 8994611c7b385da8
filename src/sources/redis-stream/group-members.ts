import type { Redis } from "ioredis";
import { consumerMemberName } from "../../backing/redis/keys.js";
import type { ScriptedRedis } from "../../backing/redis/scripts.js";

/*
 * How the consumers of one RedisStreamSource group share it across replicas (several `eventail
 * run` on one configuration, or the controller's replicas): every source instance reads under
 * names of its own, marks the entries it is delivering as worked on, and claims the entries a
 * consumer that went away left pending once they have been idle for CLAIM_IDLE_MS.
 *
 * The Lua scripts (the Redis backing's own touch and retire, called on a client that
 * `withScripts` registered them on, and the expiry here) run atomically,
 * which is what makes "touch only if still mine" and "remove a consumer only if it owns nothing"
 * free of races with the other replicas.
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
  const member = consumerMemberName();
  return Array.from({ length: count }, (_, index) => `${group}-${member}-${index}`);
}

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
  redis: ScriptedRedis,
  stream: string,
  group: string,
  consumer: string,
  id: string,
  idleMs: number,
): Promise<boolean> {
  // The backing's script answers the ids the consumer no longer owns.
  const lost = await redis.eventailTouch(stream, group, consumer, String(idleMs), id);
  return lost.length === 0;
}

export async function retireConsumer(
  redis: ScriptedRedis,
  stream: string,
  group: string,
  consumer: string,
): Promise<boolean> {
  return (await redis.eventailRetire(stream, group, consumer)) === 1;
}

export async function expireConsumers(
  redis: Redis,
  stream: string,
  group: string,
  expiryMs = CONSUMER_EXPIRY_MS,
): Promise<number> {
  return Number(await redis.eval(EXPIRE, 1, stream, group, expiryMs));
}
