/**
 * Journeys on Redis (CONTRACT §11). One hash per (namespace, event id),
 * `eventail:journey:<namespace>:<id>` (namespaces hold no colon), with a field per source for the
 * acceptance (`a\0<source>`) and one per route (`r\0<source>\0<kind>\0<name>`): the accepting
 * process and the consuming processes each write their own fields, so nobody reads before writing
 * and concurrent reports cannot overwrite one another; one HGETALL answers a lookup, every source
 * included (the 409 case). Each write renews PEXPIRE to the broker's retention, so a journey
 * lives that long after its last report. Writes are sent without waiting, batched per tick into
 * one script call on the commands connection; a failed write loses a report, never an event.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";

const SEP = "\u0000";

export function journeyKey(namespace: string, id: string): string {
  return `eventail:journey:${namespace}:${id}`;
}

export class RedisJourneyStore implements JourneyStore {
  private warned = false;
  /** Retention (ms) → this turn's reports, three arguments each (key, field, value). */
  private pending = new Map<number, string[]>();
  private pendingArgs = 0;
  private scheduled = false;
  private readonly scripted: JourneyScripted;

  constructor(
    private readonly commands: Redis,
    private readonly logger: Logger,
  ) {
    commands.defineCommand("eventailJourneyWrite", { numberOfKeys: 0, lua: JOURNEY_WRITE });
    this.scripted = commands as unknown as JourneyScripted;
  }

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    this.write(journeyKey(namespace, id), `a${SEP}${source}`, JSON.stringify(record), retentionMs);
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    const field = `r${SEP}${source}${SEP}${route.kind}${SEP}${route.name}`;
    this.write(journeyKey(namespace, id), field, JSON.stringify(route), retentionMs);
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    const fields = await this.commands.hgetall(journeyKey(namespace, id));
    const bySource = new Map<string, { accepted?: AcceptedRecord; routes: RouteRecord[] }>();
    const of = (source: string) => {
      let entry = bySource.get(source);
      if (entry === undefined) {
        entry = { routes: [] };
        bySource.set(source, entry);
      }
      return entry;
    };
    for (const [field, value] of Object.entries(fields)) {
      const parts = field.split(SEP);
      try {
        if (parts[0] === "a" && parts.length === 2) of(parts[1]!).accepted = JSON.parse(value);
        else if (parts[0] === "r" && parts.length === 4)
          of(parts[1]!).routes.push(JSON.parse(value));
      } catch {
        // A field that is not ours (or not JSON) is skipped, not fatal to the lookup.
      }
    }
    return [...bySource].map(([source, entry]) => ({ source, ...entry }));
  }

  private write(key: string, field: string, value: string, retentionMs: number): void {
    if (this.commands.status !== "ready") return;
    const ttl = Math.max(1, Math.round(retentionMs));
    let args = this.pending.get(ttl);
    if (args === undefined) {
      args = [];
      this.pending.set(ttl, args);
    }
    args.push(key, field, value);
    this.pendingArgs += 3;
    if (this.pendingArgs >= MAX_BATCH_ARGS) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushSoon);
    }
  }

  private readonly flushSoon = () => {
    this.scheduled = false;
    this.flush();
  };

  /**
   * Every report of this turn of the event loop in one script call per retention (brokers seldom
   * name one): two commands per report (HSET, PEXPIRE) sent one by one cost the client more than
   * the event's own XADD, and one retention argument per call rather than per report leaves the
   * client fewer arguments to encode and the script fewer to read.
   */
  private flush(): void {
    if (this.pendingArgs === 0) return;
    const pending = this.pending;
    this.pending = new Map();
    this.pendingArgs = 0;
    for (const [ttl, args] of pending) {
      this.scripted.eventailJourneyWrite(String(ttl), ...args).catch(this.warnLost);
    }
  }

  private readonly warnLost = (error: unknown) => {
    if (this.warned) return;
    this.warned = true;
    this.logger.warn({ err: error }, "redis backing: a journey report was not stored");
  };
}

/** Reports per turn at most (three arguments each), so one call never grows unbounded. */
const MAX_BATCH_ARGS = 3 * 1_000;

// Keys travel as ARGV, not KEYS: the backing serves a single Redis (no cluster slots to declare).
// ARGV[1] is the retention in milliseconds, then (key, field, value) per report.
const JOURNEY_WRITE = `
local ttl = ARGV[1]
for i = 2, #ARGV, 3 do
  redis.call('HSET', ARGV[i], ARGV[i + 1], ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[i], ttl)
end
return 0
`;

interface JourneyScripted {
  eventailJourneyWrite(...args: string[]): Promise<number>;
}
