/**
 * Journeys on Redis (CONTRACT §11), kept in time buckets: one hash per (retention, bucket),
 * `eventail:journeys:<retention ms>:<bucket>`, a bucket being 1/64 of the retention (at least a
 * second), with one field per event, `<namespace>\0<id>`, whose value is the event's reports,
 * one line each (`\n<slot>\t<rank><stamp><json>`, the slot naming the source and, for a route,
 * its kind and name, as JSON). Reporting appends a line, or replaces the line of the same slot, so
 * the accepting and the consuming processes never overwrite one another, and a route retried
 * many times keeps one line per bucket, not one per attempt (each carries every attempt so far).
 * A route's line replaces the one there only if it says more (routeSupersedes, decided in the
 * script from the rank: two processes may report one route, a redelivery after a reclaim). A
 * lookup HGETs the event's field in each live bucket: at most 67 per retention, whatever the
 * buckets hold; of a route's lines in several buckets (or the previous layout), the one saying
 * more wins too, whatever order they are read in.
 *
 * A turn's reports go out as one script call per bucket that reads each field they name once
 * (HMGET), applies all of the call's reports to it in memory, writes each once (HSET) and sets the
 * bucket's expiry (PEXPIREAT, on every call, so a bucket recreated after a flush still expires): an
 * event every trigger of a broker reports costs one copy of its field per call, not one per report.
 * A hash per event took an HSET and a PEXPIRE per report: 5.8-6.8 µs of Redis CPU per event (two
 * reports, 300k events stored) against 5.0 here, and 241 MB against 150 MB. A sorted set per bucket
 * (ZRANGEBYLEX lookups, no read before write) took 21-25 µs: random ids insert at random places of
 * a large skiplist. A report lives at least its retention (a bucket expires its retention plus one
 * bucket after its end) and a lookup skips reports older than the retention, so the API honours it
 * exactly. The process that opens a bucket UNLINKs the one whose retention just passed, before
 * expiry would free that large key in Redis's main thread.
 *
 * Retentions in use are listed in `eventail:journeys:retentions` (retention → when its newest
 * bucket expires), so a process asks the buckets of retentions only another process writes; a
 * lookup drops entries past that time (only if no writer renewed them meanwhile). A lookup also reads the hash per event of the previous
 * layout (`eventail:journey:<namespace>:<id>`), so journeys written by processes of an older
 * version during a rolling upgrade are still found until they expire.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import { routeSupersedes } from "../journey-index.js";

const SEP = "\u0000";
const PREFIX = "eventail:journeys:";
export const RETENTIONS_KEY = "eventail:journeys:retentions";
/** Buckets per retention: a lookup asks this many (plus three), each holds 1/64 of the reports. */
const BUCKETS = 64;
/** Milliseconds in base 36, padded to 9 digits (8 suffice until 2059): when it was written. */
const STAMP_WIDTH = 9;
const MAX_MS = 36 ** STAMP_WIDTH - 1;

/** The previous layout's hash per event: read on lookup only. */
export function journeyKey(namespace: string, id: string): string {
  return `eventail:journey:${namespace}:${id}`;
}

export function bucketMs(retentionMs: number): number {
  return Math.max(1_000, Math.ceil(retentionMs / BUCKETS));
}

/** The bucket a report written at `at` goes to, and when Redis drops it. */
export function bucketOf(retentionMs: number, at: number): { key: string; expiresAt: number } {
  const size = bucketMs(retentionMs);
  const index = Math.floor(at / size);
  return { key: `${PREFIX}${retentionMs}:${index}`, expiresAt: (index + 2) * size + retentionMs };
}

/** The event's field in a bucket (namespaces hold no NUL). */
export function journeyField(namespace: string, id: string): string {
  return `${namespace}${SEP}${id}`;
}

/**
 * A report as its bucket stores it: `\n<slot>\t<rank><stamp><json>`. The slot (JSON, so it holds
 * no newline or tab) is `[source]` for the acceptance and `[source, kind, name]` for a route; the
 * script replaces the line of the same slot if the rank says this report says more
 * (routeSupersedes: the later latest attempt when both made one and they differ, else an outcome
 * over `pending`, else the later write). The rank is `a` for an acceptance (the later write
 * wins), `p` or `o` for a pending route or one with an outcome, without attempts, and `P` or `O`
 * followed by its latest attempt's milliseconds (like the stamp) for one with attempts: only
 * what the comparison needs, as lines are kept for the whole retention.
 */
export function journeyLine(
  source: string,
  report: AcceptedRecord | RouteRecord,
  route: boolean,
  at: number,
): { slot: string; line: string } {
  const slot = `\n${JSON.stringify(route ? [source, (report as RouteRecord).kind, (report as RouteRecord).name] : [source])}\t`;
  const stamp = at.toString(36).padStart(STAMP_WIDTH, "0");
  const rank = route ? routeRank(report as RouteRecord) : "a";
  return { slot, line: `${slot}${rank}${stamp}${JSON.stringify(report)}` };
}

/** What the script compares of a route's report, so it needs no JSON (see JOURNEY_APPEND). */
function routeRank(route: RouteRecord): string {
  const pending = route.outcome === "pending";
  const attempts = route.attempts ?? [];
  if (attempts.length === 0) return pending ? "p" : "o";
  let last = attempts[0]!.at;
  for (const attempt of attempts) last = Math.max(last, attempt.at);
  // Clamped to the width: an attempt before 1970 (or after 5188) is compared as at its bound.
  const ms = Math.min(MAX_MS, Math.max(0, Math.floor(last)));
  return `${pending ? "P" : "O"}${ms.toString(36).padStart(STAMP_WIDTH, "0")}`;
}

/** Characters of the rank that begins `line` at `at`. */
function rankWidth(line: string, at: number): number {
  const flag = line[at];
  return flag === "P" || flag === "O" ? 1 + STAMP_WIDTH : 1;
}

export class RedisJourneyStore implements JourneyStore {
  private warned = false;
  /** Retention (ms) → this turn's reports, three arguments each (field, slot, line). */
  private pending = new Map<number, string[]>();
  private pendingReports = 0;
  private scheduled = false;
  /** Retention → the bucket index this process last wrote, to open (and sweep) each once. */
  private readonly opened = new Map<number, number>();
  private readonly scripted: JourneyScripted;

  constructor(
    private readonly commands: Redis,
    private readonly logger: Logger,
  ) {
    commands.defineCommand("eventailJourneyAppend", { numberOfKeys: 2, lua: JOURNEY_APPEND });
    commands.defineCommand("eventailJourneyForget", { numberOfKeys: 1, lua: JOURNEY_FORGET });
    this.scripted = commands as unknown as JourneyScripted;
  }

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    this.write(namespace, id, journeyLine(source, record, false, Date.now()), retentionMs);
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    this.write(namespace, id, journeyLine(source, route, true, Date.now()), retentionMs);
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    const now = Date.now();
    const retentions = await this.commands.hgetall(RETENTIONS_KEY);
    const pipeline = this.commands.pipeline();
    pipeline.hgetall(journeyKey(namespace, id));
    const field = journeyField(namespace, id);
    const asked: number[] = [];
    const gone: string[] = [];
    for (const [name, until] of Object.entries(retentions)) {
      const ttl = Number(name);
      if (Number(until) < now) gone.push(name);
      if (!(ttl > 0) || Number(until) < now) continue;
      const size = bucketMs(ttl);
      // One bucket either side: another process's clock may stand a little apart from ours.
      const last = Math.floor(now / size) + 1;
      for (let index = Math.floor((now - ttl) / size) - 1; index <= last; index++) {
        pipeline.hget(`${PREFIX}${ttl}:${index}`, field);
        asked.push(ttl);
      }
    }
    // Handled where it is made: it may fail before the pipeline answers.
    const forgotten =
      gone.length > 0
        ? this.scripted
            .eventailJourneyForget(RETENTIONS_KEY, String(now), ...gone)
            .catch(this.warnLost)
        : undefined;
    const answers = (await pipeline.exec()) ?? [];
    await forgotten;
    const bySource = new Map<
      string,
      { accepted?: AcceptedRecord; routes: Map<string, RouteRecord> }
    >();
    const of = (source: string) => {
      let entry = bySource.get(source);
      if (entry === undefined) {
        entry = { routes: new Map() };
        bySource.set(source, entry);
      }
      return entry;
    };
    const [legacyError, legacy] = answers[0] ?? [null, {}];
    if (!legacyError) readLegacy(legacy as Record<string, string>, of);
    let next = 0;
    for (const [error, value] of answers.slice(1, 1 + asked.length)) {
      const ttl = asked[next++]!;
      if (error || typeof value !== "string") continue;
      for (const line of value.split("\n")) {
        const tab = line.indexOf("\t");
        if (tab < 0) continue; // the empty text before the first line, or not ours
        const at = tab + 1 + rankWidth(line, tab + 1);
        if (Number.parseInt(line.slice(at, at + STAMP_WIDTH), 36) < now - ttl) continue;
        let slot: unknown;
        let report: unknown;
        try {
          slot = JSON.parse(line.slice(0, tab));
          report = JSON.parse(line.slice(at + STAMP_WIDTH));
        } catch {
          continue; // not ours: skipped, not fatal to the lookup
        }
        if (!Array.isArray(slot) || typeof slot[0] !== "string" || typeof report !== "object") {
          continue;
        }
        if (slot.length === 1) of(slot[0]).accepted = report as AcceptedRecord;
        else if (slot.length === 3) keepRoute(of(slot[0]).routes, report as RouteRecord);
      }
    }
    return [...bySource].map(([source, entry]) => ({
      source,
      ...(entry.accepted ? { accepted: entry.accepted } : {}),
      routes: [...entry.routes.values()],
    }));
  }

  private write(
    namespace: string,
    id: string,
    report: { slot: string; line: string },
    retentionMs: number,
  ): void {
    if (this.commands.status !== "ready") return;
    const ttl = Math.max(1, Math.round(retentionMs));
    let args = this.pending.get(ttl);
    if (args === undefined) {
      args = [];
      this.pending.set(ttl, args);
    }
    args.push(journeyField(namespace, id), report.slot, report.line);
    if (++this.pendingReports >= MAX_BATCH) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  private readonly flushSoon = () => {
    this.scheduled = false;
    this.flush();
  };

  /** Every report of this turn of the event loop in one script call per retention. */
  private flush(): void {
    if (this.pendingReports === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingReports = 0;
    const now = Date.now();
    for (const [ttl, args] of pending) {
      const { key, expiresAt } = bucketOf(ttl, now);
      this.sweep(ttl, now);
      this.scripted
        .eventailJourneyAppend(key, RETENTIONS_KEY, String(expiresAt), String(ttl), ...args)
        .catch(this.warnLost);
    }
  }

  /** Once per bucket and process: unlink the bucket whose retention passed as this one began. */
  private sweep(ttl: number, now: number): void {
    const size = bucketMs(ttl);
    const index = Math.floor(now / size);
    if (this.opened.get(ttl) === index) return;
    this.opened.set(ttl, index);
    // Past its retention since this bucket began: (index - behind + 1) * size + ttl <= index * size,
    // and one bucket more: another process's clock may stand behind ours (as lookups allow for).
    const behind = 2 + Math.ceil(ttl / size);
    this.commands.unlink(`${PREFIX}${ttl}:${index - behind}`).catch(this.warnLost);
  }

  private readonly warnLost = (error: unknown) => {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn({ err: error }, "redis backing: a journey report was not stored");
  };
}

/**
 * Reports per turn at most, so one call never grows unbounded (and its HMGET and HSET stay well
 * within the arguments Lua's unpack takes).
 */
const MAX_BATCH = 1_000;

// KEYS: the bucket, the list of retentions. ARGV: when the bucket expires (ms), the retention,
// then (field, slot, line) per report, in the order written. Each field named is read once, split
// into lines (slot → position), every report applied in order (a line of the same slot replaced
// if the new one supersedes it, else the report appended) and the field written once. The ranks
// are compared as numbers, not strings: Lua compares strings with strcoll, under Redis's locale.
// A field with one report in the call is searched and spliced as a string (no tables to build
// for the common event, reported once or twice per turn); one with more is split into lines.
// The retention is listed on every call, not once per bucket: a list deleted by hand (or a flush)
// comes back with the next report rather than the next bucket.
const JOURNEY_APPEND = `
local key = KEYS[1]
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
local fields, reports = {}, {}
for i = 3, #ARGV, 3 do
  local n = reports[ARGV[i]]
  if n then reports[ARGV[i]] = n + 1 else
    reports[ARGV[i]] = 1
    fields[#fields + 1] = ARGV[i]
  end
end
local function supersedes(new, i, old, j)
  local f, g = string.sub(new, i, i), string.sub(old, j, j)
  if (f == 'P' or f == 'O') and (g == 'P' or g == 'O') then
    local a = tonumber(string.sub(new, i + 1, i + ${STAMP_WIDTH}), 36)
    local b = tonumber(string.sub(old, j + 1, j + ${STAMP_WIDTH}), 36)
    if a and b and a ~= b then return a > b end
  end
  return not ((f == 'p' or f == 'P') and g ~= 'p' and g ~= 'P')
end
local olds = redis.call('HMGET', key, unpack(fields))
local docs = {}
for n, field in ipairs(fields) do
  local old = olds[n] or ''
  if reports[field] == 1 then docs[field] = old else
    local lines, at = {}, {}
    local start, len = 1, #old
    while start <= len do
      local nl = string.find(old, '\\n', start + 1, true)
      local stop = nl and nl - 1 or len
      lines[#lines + 1] = string.sub(old, start, stop)
      local tab = string.find(old, '\\t', start, true)
      if tab and tab <= stop then at[string.sub(old, start, tab)] = #lines end
      start = stop + 1
    end
    docs[field] = { lines = lines, at = at }
  end
end
for i = 3, #ARGV, 3 do
  local field, slot, line = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local doc, s = docs[field], #slot + 1
  if type(doc) == 'string' then
    local at = string.find(doc, slot, 1, true)
    if not at then docs[field] = doc .. line
    elseif supersedes(line, s, doc, at + s - 1) then
      local after = string.find(doc, '\\n', at + 1, true)
      docs[field] = string.sub(doc, 1, at - 1) .. (after and string.sub(doc, after) or '') .. line
    end
  else
    local n = doc.at[slot]
    if n == nil then
      doc.lines[#doc.lines + 1] = line
      doc.at[slot] = #doc.lines
    elseif supersedes(line, s, doc.lines[n], s) then
      doc.lines[n] = line
    end
  end
end
local values = {}
for _, field in ipairs(fields) do
  local doc = docs[field]
  values[#values + 1] = field
  values[#values + 1] = type(doc) == 'string' and doc or table.concat(doc.lines)
end
redis.call('HSET', key, unpack(values))
redis.call('PEXPIREAT', key, ARGV[1])
return 0
`;

// KEYS: the list of retentions. ARGV: now (ms), then retentions a lookup found past their last
// bucket: each is removed only if still past it (a writer may have listed it again meanwhile).
const JOURNEY_FORGET = `
local now = tonumber(ARGV[1])
for i = 2, #ARGV do
  local until_ = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if until_ and until_ < now then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 0
`;

interface JourneyScripted {
  eventailJourneyAppend(...args: string[]): Promise<number>;
  eventailJourneyForget(...args: string[]): Promise<number>;
}

/** Keeps `route` for its slot unless the one there says more (journey-index.ts). */
function keepRoute(routes: Map<string, RouteRecord>, route: RouteRecord): void {
  const slot = `${route.kind}${SEP}${route.name}`;
  const present = routes.get(slot);
  if (present === undefined || routeSupersedes(route, present)) routes.set(slot, route);
}

/** Fields of the previous layout's hash: `a\0<source>` and `r\0<source>\0<kind>\0<name>`. */
function readLegacy(
  fields: Record<string, string>,
  of: (source: string) => { accepted?: AcceptedRecord; routes: Map<string, RouteRecord> },
): void {
  for (const [field, value] of Object.entries(fields ?? {})) {
    const parts = field.split(SEP);
    try {
      if (parts[0] === "a" && parts.length === 2) of(parts[1]!).accepted = JSON.parse(value);
      else if (parts[0] === "r" && parts.length === 4)
        keepRoute(of(parts[1]!).routes, JSON.parse(value));
    } catch {
      // A field that is not ours (or not JSON) is skipped, not fatal to the lookup.
    }
  }
}
