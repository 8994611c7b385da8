/**
 * Auto-created EventTypes on NATS (CONTRACT §11), shared by every process on the engine: the
 * key-value bucket `eventail-eventtypes`, one key per entry, `<namespace>.<hash of broker, type
 * and source>` (subjects allow few characters; the value keeps the originals), holding the whole
 * entry as JSON. A flush reads each entry, adds its batch and writes it back only if the entry's
 * revision is still the one read (KV update), retrying a few times: counts from several processes
 * add up and schemas merge, and nobody's write is lost to another's.
 */
import { createHash } from "node:crypto";
import { type KV, StorageType } from "nats";
import {
  CAS_ATTEMPTS,
  casBackoff,
  type EventTypeStore,
  EventTypesNotWrittenError,
  type ObservedEventType,
} from "../event-type-store.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import type { NatsSettings } from "./settings.js";

export const EVENT_TYPES_BUCKET = "eventail-eventtypes";

function token(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}

export function eventTypeKey(o: {
  namespace: string;
  broker: string;
  type: string;
  source: string;
}): string {
  return `${o.namespace}.${token(`${o.broker}\u0000${o.type}\u0000${o.source}`)}`;
}

export class NatsEventTypeStore implements EventTypeStore {
  private bucket: { link: NatsLink; kv: Promise<KV> } | undefined;

  constructor(
    private readonly connector: NatsConnector,
    private readonly settings: NatsSettings,
  ) {}

  private async kv(): Promise<KV> {
    const link = await this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
    if (this.bucket?.link !== link) {
      const kv = link.js.views.kv(EVENT_TYPES_BUCKET, {
        history: 1,
        replicas: this.settings.replicas,
        storage: StorageType.File,
      });
      kv.catch(() => {
        if (this.bucket?.kv === kv) this.bucket = undefined;
      });
      this.bucket = { link, kv };
    }
    return this.bucket.kv;
  }

  async add(
    observations: readonly ObservedEventType[],
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void> {
    let kv: KV;
    try {
      kv = await this.kv();
    } catch (error) {
      throw new EventTypesNotWrittenError((error as Error).message, observations, { cause: error });
    }
    const unwritten: ObservedEventType[] = [];
    let reason: unknown;
    for (const o of observations) {
      try {
        await this.addOne(kv, o, mergeSchema);
      } catch (error) {
        unwritten.push(o);
        reason ??= error;
      }
    }
    if (unwritten.length > 0) {
      throw new EventTypesNotWrittenError(
        `${unwritten.length} EventType(s) were not written: ${String(reason)}`,
        unwritten,
        { cause: reason },
      );
    }
  }

  private async addOne(
    kv: KV,
    o: ObservedEventType,
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void> {
    const key = eventTypeKey(o);
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      await casBackoff(attempt);
      const entry = await kv.get(key);
      const old =
        entry === null || entry.operation !== "PUT" ? undefined : entry.json<ObservedEventType>();
      const next = old === undefined ? o : combine(old, o, mergeSchema);
      try {
        if (entry === null || old === undefined) await kv.create(key, JSON.stringify(next));
        else await kv.update(key, JSON.stringify(next), entry.revision);
        return;
      } catch (error) {
        // Another process wrote first (wrong last sequence): read again and retry.
        if (!/wrong last sequence|key exists/i.test(String(error))) throw error;
      }
    }
    throw new Error(`EventType ${key} kept changing under this write`);
  }

  async list(namespace?: string): Promise<ObservedEventType[]> {
    const kv = await this.kv();
    const keys: string[] = [];
    for await (const key of await kv.keys(namespace === undefined ? ">" : `${namespace}.>`)) {
      keys.push(key);
    }
    const out: ObservedEventType[] = [];
    for (const entry of await Promise.all(keys.map((key) => kv.get(key)))) {
      if (entry === null || entry.operation !== "PUT") continue;
      try {
        out.push(entry.json<ObservedEventType>());
      } catch {
        // A value that is not ours is skipped.
      }
    }
    return out;
  }
}

function combine(
  a: ObservedEventType,
  b: ObservedEventType,
  mergeSchema: (a: unknown, b: unknown) => unknown,
): ObservedEventType {
  const schema =
    a.schema === undefined
      ? b.schema
      : b.schema === undefined
        ? a.schema
        : mergeSchema(a.schema, b.schema);
  return {
    ...a,
    count: a.count + b.count,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    ...(schema === undefined ? {} : { schema }),
  };
}
