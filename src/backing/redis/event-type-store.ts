/**
 * Auto-created EventTypes on Redis (CONTRACT §11), shared by every process on the engine. One
 * hash per namespace, `eventail:eventtypes:<namespace>`, with per entry (broker, type, source) a
 * count field (`c\0id`, HINCRBY), first and last seen (`f\0id`, `l\0id`, min and max kept by one
 * script) and the schema (`s\0id`). Counts and times of a flush go in one atomic script per
 * namespace; a schema is merged in the process and written only if nobody wrote since it was read
 * (compare-and-set script), retried a few times, and not at all when merging changed nothing —
 * the usual case once a type's schema has settled. Schemas go first and counts last: a flush that
 * fails part way has counted nothing, and merging a schema twice changes nothing, so the retry
 * adds each count once. The set `eventail:eventtypes` names the
 * namespaces, for listing them all.
 */
import type { Redis } from "ioredis";
import {
  CAS_ATTEMPTS,
  casBackoff,
  type EventTypeStore,
  EventTypesNotWrittenError,
  type ObservedEventType,
} from "../event-type-store.js";

const SEP = "\u0000";
const NAMESPACES_KEY = "eventail:eventtypes";

export function eventTypesKey(namespace: string): string {
  return `eventail:eventtypes:${namespace}`;
}

/** ARGV: (id, count, first, last) per entry. */
const ADD = `
for i = 1, #ARGV, 4 do
  local id = ARGV[i]
  redis.call('HINCRBY', KEYS[1], 'c\\0' .. id, ARGV[i + 1])
  local first = redis.call('HGET', KEYS[1], 'f\\0' .. id)
  if not first or tonumber(first) > tonumber(ARGV[i + 2]) then
    redis.call('HSET', KEYS[1], 'f\\0' .. id, ARGV[i + 2])
  end
  local last = redis.call('HGET', KEYS[1], 'l\\0' .. id)
  if not last or tonumber(last) < tonumber(ARGV[i + 3]) then
    redis.call('HSET', KEYS[1], 'l\\0' .. id, ARGV[i + 3])
  end
end
return 1
`;

/** ARGV[1] field, ARGV[2] the value read ('' for none), ARGV[3] the new value. */
const COMPARE_AND_SET = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;

function entryId(o: { broker: string; type: string; source: string }): string {
  return [o.broker, o.type, o.source].join(SEP);
}

export class RedisEventTypeStore implements EventTypeStore {
  constructor(private readonly commands: Redis) {}

  async add(
    observations: readonly ObservedEventType[],
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void> {
    const byNamespace = new Map<string, ObservedEventType[]>();
    for (const o of observations) {
      byNamespace.set(o.namespace, [...(byNamespace.get(o.namespace) ?? []), o]);
    }
    const namespaces = [...byNamespace];
    for (let n = 0; n < namespaces.length; n++) {
      const [namespace, entries] = namespaces[n]!;
      const key = eventTypesKey(namespace);
      try {
        for (const o of entries) {
          if (o.schema !== undefined)
            await this.mergeSchema(key, entryId(o), o.schema, mergeSchema);
        }
        const args = entries.flatMap((o) => [
          entryId(o),
          String(o.count),
          String(o.firstSeen),
          String(o.lastSeen),
        ]);
        await this.commands.sadd(NAMESPACES_KEY, namespace);
        await this.commands.eval(ADD, 1, key, ...args);
      } catch (error) {
        // The script is atomic: this namespace's counts are all in, or none is.
        throw new EventTypesNotWrittenError(
          `EventTypes of namespace ${namespace} were not written: ${(error as Error).message}`,
          namespaces.slice(n).flatMap(([, rest]) => rest),
          { cause: error },
        );
      }
    }
  }

  private async mergeSchema(
    key: string,
    id: string,
    schema: unknown,
    merge: (a: unknown, b: unknown) => unknown,
  ): Promise<void> {
    const field = `s${SEP}${id}`;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      await casBackoff(attempt);
      const current = (await this.commands.hget(key, field)) ?? "";
      const merged = JSON.stringify(
        current === "" ? schema : merge(JSON.parse(current) as unknown, schema),
      );
      if (merged === current) return;
      if ((await this.commands.eval(COMPARE_AND_SET, 1, key, field, current, merged)) === 1) return;
    }
    throw new Error(`the schema of ${id.replaceAll(SEP, " ")} kept changing under this write`);
  }

  async list(namespace?: string): Promise<ObservedEventType[]> {
    const namespaces =
      namespace === undefined ? await this.commands.smembers(NAMESPACES_KEY) : [namespace];
    const out: ObservedEventType[] = [];
    for (const ns of namespaces) {
      const fields = await this.commands.hgetall(eventTypesKey(ns));
      for (const [field, value] of Object.entries(fields)) {
        if (!field.startsWith(`c${SEP}`)) continue;
        const id = field.slice(2);
        const [broker, type, source] = id.split(SEP);
        if (broker === undefined || type === undefined || source === undefined) continue;
        let schema: unknown;
        const text = fields[`s${SEP}${id}`];
        try {
          schema = text === undefined ? undefined : JSON.parse(text);
        } catch {
          schema = undefined;
        }
        out.push({
          namespace: ns,
          broker,
          type,
          source,
          count: Number(value),
          firstSeen: Number(fields[`f${SEP}${id}`] ?? 0),
          lastSeen: Number(fields[`l${SEP}${id}`] ?? 0),
          ...(schema === undefined ? {} : { schema }),
        });
      }
    }
    return out;
  }
}
