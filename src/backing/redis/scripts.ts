/**
 * The Lua scripts of the Redis backing. They live here as string constants rather than .lua
 * files because tsc does not copy .lua files to dist/, and the scripts must ship with the build.
 * Each runs atomically, which is what makes "claim only if still mine" and "trim below every
 * group's oldest unacknowledged entry" free of races between processes.
 */
import type { Redis } from "ioredis";

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] member, ARGV[3] idle ms, ARGV[4..] entry ids.
 * Output: the ids this member no longer owns (acked, or reclaimed by another member).
 * Sets the idle time of every id the member still owns: 0 keeps reclaim away from a live
 * handler's entry; the reclaim threshold hands an entry back for others to take at once.
 */
const TOUCH = `
local lost = {}
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] member, ARGV[3] entry id.
 * Output: the entry's new delivery count, or 0 when the member no longer owns it.
 * Counts one more delivery in the pending list, so a process that later reclaims the entry
 * sees the attempts already made.
 */
const REDELIVER = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then return 0 end
local count = p[1][4] + 1
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'RETRYCOUNT', count, 'JUSTID')
return count
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] member, ARGV[3] min idle ms, ARGV[4] cursor
 * ("-" to start, else an exclusive "(<id>"), ARGV[5] count.
 * Output: { next cursor ("-" when the pending list was walked to its end),
 *           { { id, { field, value, ... }, delivery count }, ... } claimed from other members,
 *           { { id, delivery count }, ... } of the caller's own idle entries, not claimed }.
 * The caller's own entries are left alone: it knows which of them it still works on (claiming
 * those would count a delivery that never happened) and claims only the ones it lost track of.
 */
const RECLAIM = `
local rows = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], ARGV[4], '+', ARGV[5])
local cursor = '-'
if #rows == tonumber(ARGV[5]) then cursor = '(' .. rows[#rows][1] end
local claimed, own = {}, {}
for _, row in ipairs(rows) do
  if row[2] == ARGV[2] then
    own[#own + 1] = { row[1], row[4] }
  else
    local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], row[1])[1]
    if entry and entry[2] then claimed[#claimed + 1] = { entry[1], entry[2], row[4] + 1 } end
  end
end
return { cursor, claimed, own }
`;

/**
 * Input: KEYS[1] stream; ARGV[1] member expiry ms; ARGV[2] (retention only, else "") the oldest
 * id to keep regardless of acknowledgements, i.e. `(now - retention)-0`; ARGV[3] "1" when the
 * calling process has subscriptions on the stream (else "").
 * Output: the number of entries trimmed.
 * With ARGV[2] (CONTRACT §5 `eventail.io/retention`) the stream is trimmed by time: an entry stays
 * until it is both older than the retention and acknowledged by every group.
 * Retention: an entry may go once every group has acknowledged it, i.e. below the smallest of
 * each group's oldest pending id (or its last-delivered id when nothing is pending). A stream
 * with no group is emptied: groups start at "$", so no future consumer could read those entries;
 * unless the caller reads it (ARGV[3]): then its groups were lost (Redis restarted without its
 * data), and the subscriptions re-create them at 0 on their next read, so nothing goes.
 * Members with nothing pending that have been silent longer than the expiry are removed.
 */
const MAINTAIN = `
local function before(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local function fields(list)
  local map = {}
  for i = 1, #list, 2 do map[list[i]] = list[i + 1] end
  return map
end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local expiry = tonumber(ARGV[1])
local floor = nil
for _, raw in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local group = fields(raw)
  local mark = group['last-delivered-id']
  if group['pending'] > 0 then
    mark = redis.call('XPENDING', KEYS[1], group['name'])[2]
  end
  if floor == nil or before(mark, floor) then floor = mark end
  for _, rawMember in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], group['name'])) do
    local member = fields(rawMember)
    if member['pending'] == 0 and member['idle'] > expiry then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], group['name'], member['name'])
    end
  end
end
if ARGV[2] and ARGV[2] ~= '' then
  if floor == nil or before(ARGV[2], floor) then floor = ARGV[2] end
end
if floor == nil then
  if ARGV[3] == '1' then return 0 end
  return redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)
end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] member.
 * Output: 1 when the member was removed, 0 when it still owns entries (left for reclaim).
 */
const RETIRE = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

/**
 * Input: KEYS[1] stream, KEYS[2] its removed-group mark; ARGV[1] group, ARGV[2] mark lifetime ms.
 * Output: 1 when the group existed and was destroyed, else 0.
 * Destroys the group and marks it removed in one step, so no process re-creating it after a
 * NOGROUP can miss the mark.
 */
const REMOVE_GROUP = `
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
`;

/**
 * Input: KEYS[1] stream; ARGV[1] group, ARGV[2] member, ARGV[3] count.
 * Output: { 1, { { id, { field, value, ... } }, ... } } with new entries for the member, or
 *         { 0, tail } when there are none, tail being the stream's last id ("0-0" when empty).
 * A non-blocking XREADGROUP; the tail read in the same atomic step is where the stream notifier
 * watches from, so no entry can slip in between "nothing new" and the watch.
 */
const POLL = `
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if r and r[1] and #r[1][2] > 0 then return { 1, r[1][2] } end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last then return { 0, last[1] } end
return { 0, '0-0' }
`;

/**
 * Input: KEYS[1..n] the stream of each publish (a stream may repeat); ARGV[1] the entry field,
 * then per publish its event count followed by that many encoded events.
 * Output: per publish, its entry ids, or the error message of the XADD that failed.
 * One call stores every publish of a tick (no auto-pipelining needed). Each publish stays whole
 * or absent on its own: when one of its XADDs fails, the ones it already added are deleted, and
 * the other publishes go on.
 */
const APPEND = `
local out = {}
local at = 2
for k = 1, #KEYS do
  local n = tonumber(ARGV[at])
  local ids, failed = {}, nil
  for i = at + 1, at + n do
    local id = redis.pcall('XADD', KEYS[k], '*', ARGV[1], ARGV[i])
    if type(id) == 'table' and id.err then
      failed = id.err
      break
    end
    ids[#ids + 1] = id
  end
  at = at + n + 1
  if failed then
    -- In slices: unpack of a very large publish would pass Lua's stack limit.
    for from = 1, #ids, 1000 do
      redis.call('XDEL', KEYS[k], unpack(ids, from, math.min(from + 999, #ids)))
    end
    out[k] = failed
  else
    out[k] = ids
  end
end
return out
`;

/** What one POLL returns. */
export type PollResult =
  | [found: 1, entries: Array<[id: string, fields: string[]]>]
  | [found: 0, tail: string];

/** What one RECLAIM pass returns. */
export type ReclaimPass = [
  cursor: string,
  claimed: Array<[id: string, fields: string[], deliveryCount: number]>,
  own: Array<[id: string, deliveryCount: number]>,
];

export interface ScriptedRedis extends Redis {
  eventailTouch(
    stream: string,
    group: string,
    member: string,
    idleMs: string,
    ...ids: string[]
  ): Promise<string[]>;
  eventailRedeliver(stream: string, group: string, member: string, id: string): Promise<number>;
  eventailReclaim(
    stream: string,
    group: string,
    member: string,
    minIdleMs: number,
    cursor: string,
    count: number,
  ): Promise<ReclaimPass>;
  eventailMaintain(
    stream: string,
    memberExpiryMs: number,
    keepFrom: string,
    subscribed: string,
  ): Promise<number>;
  eventailRetire(stream: string, group: string, member: string): Promise<number>;
  eventailPoll(stream: string, group: string, member: string, count: number): Promise<PollResult>;
  eventailRemoveGroup(stream: string, mark: string, group: string, markMs: number): Promise<number>;
  /** numberOfKeys first (one key per publish), then the keys, then APPEND's ARGV. */
  eventailAppend(numberOfKeys: number, ...keysAndArgs: string[]): Promise<Array<string[] | string>>;
}

/** Registers the scripts (EVALSHA, falling back to EVAL after a server restart lost them). */
export function withScripts(redis: Redis): ScriptedRedis {
  const scripts = {
    eventailTouch: TOUCH,
    eventailRedeliver: REDELIVER,
    eventailReclaim: RECLAIM,
    eventailMaintain: MAINTAIN,
    eventailRetire: RETIRE,
    eventailPoll: POLL,
  };
  for (const [name, lua] of Object.entries(scripts)) {
    redis.defineCommand(name, { numberOfKeys: 1, lua });
  }
  redis.defineCommand("eventailRemoveGroup", { numberOfKeys: 2, lua: REMOVE_GROUP });
  redis.defineCommand("eventailAppend", { lua: APPEND });
  return redis as ScriptedRedis;
}
