/**
 * Journeys on NATS (CONTRACT §11): JetStream key-value buckets, one per retention,
 * `eventail-journeys-<seconds>s`, whose max_age is that retention. NATS 2.9 has no per-key TTL
 * (per-message TTL came with 2.11), so the retention a Broker names is the age limit of a whole
 * bucket; brokers that name different retentions write to different buckets, and a lookup asks
 * every journey bucket on the engine (one STREAM.NAMES request finds them, so a restarted process
 * or another one of a scale-out finds buckets it never wrote to).
 *
 * One key per report, `<namespace>.<id hash>.<source hash>.a` for the acceptance and
 * `….r-<hash of kind and name>` per route: the accepting process and each consuming process put
 * their own keys, so nobody reads before writing and concurrent reports never overwrite each
 * other. Ids and sources are any strings and NATS subjects allow few characters, hence the hashes;
 * the value keeps the original id and source (JSON `{id, source, accepted | route}`), and a lookup
 * lists the keys under `<namespace>.<id hash>.>` and keeps values whose id matches. A key lives
 * the retention after its own last write (the bucket keeps one revision per key).
 *
 * Puts are sent without waiting and bounded in number: a failed or dropped put loses a report,
 * never an event, and never slows the data path.
 */
import { createHash } from "node:crypto";
import { type KV, StorageType } from "nats";
import type { Logger } from "../../observability/logger.js";
import type { AcceptedRecord, JourneyStore, RouteRecord, StoredJourney } from "../journey.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import type { NatsSettings } from "./settings.js";

export const JOURNEY_BUCKET_PREFIX = "eventail-journeys-";
/** Puts still awaiting their ack beyond which new reports are dropped (NATS is slow or away). */
const MAX_IN_FLIGHT = 10_000;

const ENCODER = new TextEncoder();

/** The bucket holding journeys of `retentionMs` (whole seconds, at least one). */
export function journeyBucket(retentionMs: number): string {
  return `${JOURNEY_BUCKET_PREFIX}${Math.max(1, Math.round(retentionMs / 1000))}s`;
}

function token(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}

/** The keys under which (namespace, id) is stored, for a KV key filter. */
export function journeyKeyPrefix(namespace: string, id: string): string {
  return `${namespace}.${token(id)}`;
}

interface StoredValue {
  readonly id: string;
  readonly source: string;
  readonly accepted?: AcceptedRecord;
  readonly route?: RouteRecord;
}

export class NatsJourneyStore implements JourneyStore {
  /** Buckets opened on the current link (a new link after NATS closed ours opens them again). */
  private buckets = new Map<string, Promise<KV>>();
  private bucketsLink: NatsLink | undefined;
  private inFlight = 0;
  /** Buckets a put has reached on the current link: later puts need no acknowledgement. */
  private readonly opened = new Set<string>();
  private warned = false;

  constructor(
    private readonly connector: NatsConnector,
    private readonly settings: NatsSettings,
    private readonly logger: Logger,
  ) {}

  writeAccepted(
    namespace: string,
    id: string,
    source: string,
    record: AcceptedRecord,
    retentionMs: number,
  ): void {
    const key = `${journeyKeyPrefix(namespace, id)}.${token(source)}.a`;
    this.put(retentionMs, key, { id, source, accepted: record });
  }

  writeRoute(
    namespace: string,
    id: string,
    source: string,
    route: RouteRecord,
    retentionMs: number,
  ): void {
    const part = `r-${token(`${route.kind}\u0000${route.name}`)}`;
    const key = `${journeyKeyPrefix(namespace, id)}.${token(source)}.${part}`;
    this.put(retentionMs, key, { id, source, route });
  }

  async read(namespace: string, id: string): Promise<StoredJourney[]> {
    const link = await this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
    const names: string[] = [];
    for await (const stream of link.jsm.streams.names()) {
      if (stream.startsWith(`KV_${JOURNEY_BUCKET_PREFIX}`)) names.push(stream.slice(3));
    }
    const values = await Promise.all(
      names.map((name) => this.readBucket(link, name, journeyKeyPrefix(namespace, id))),
    );
    const bySource = new Map<string, { accepted?: AcceptedRecord; routes: RouteRecord[] }>();
    for (const value of values.flat()) {
      if (value.id !== id) continue;
      let entry = bySource.get(value.source);
      if (entry === undefined) {
        entry = { routes: [] };
        bySource.set(value.source, entry);
      }
      if (value.accepted !== undefined) entry.accepted = value.accepted;
      if (value.route !== undefined) entry.routes.push(value.route);
    }
    return [...bySource].map(([source, entry]) => ({ source, ...entry }));
  }

  private async readBucket(link: NatsLink, name: string, prefix: string): Promise<StoredValue[]> {
    const kv = await this.bucket(link, name, undefined);
    const keys: string[] = [];
    for await (const key of await kv.keys(`${prefix}.>`)) keys.push(key);
    const entries = await Promise.all(keys.map((key) => kv.get(key)));
    const values: StoredValue[] = [];
    for (const entry of entries) {
      if (entry === null || entry.operation !== "PUT") continue;
      try {
        values.push(entry.json<StoredValue>());
      } catch {
        // A value that is not ours (or not JSON) is skipped, not fatal to the lookup.
      }
    }
    return values;
  }

  /** Opens (creating with `retentionMs` as max_age) or binds to bucket `name`. */
  private bucket(link: NatsLink, name: string, retentionMs: number | undefined): Promise<KV> {
    if (this.bucketsLink !== link) {
      this.bucketsLink = link;
      this.buckets = new Map();
      this.opened.clear();
    }
    let bucket = this.buckets.get(name);
    if (bucket === undefined) {
      bucket =
        retentionMs === undefined
          ? link.js.views.kv(name, { bindOnly: true })
          : link.js.views.kv(name, {
              history: 1,
              ttl: retentionMs,
              replicas: this.settings.replicas,
              storage: StorageType.File,
            });
      this.buckets.set(name, bucket);
      // A failed open is tried again by the next report.
      bucket.catch(() => this.buckets.delete(name));
    }
    return bucket;
  }

  private put(retentionMs: number, key: string, value: StoredValue): void {
    const link = this.connector.current();
    if (link === undefined) return;
    const name = journeyBucket(retentionMs);
    if (this.opened.has(name) && this.bucketsLink === link) {
      // The bucket is there: a plain publish on its subject is a put the stream stores, without
      // the acknowledgement round trip kv.put waits for (a lost report is allowed; a slow
      // ingress is not).
      link.nc.publish(`$KV.${name}.${key}`, ENCODER.encode(JSON.stringify(value)));
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) return;
    this.inFlight++;
    this.bucket(link, name, Math.max(1000, Math.round(retentionMs / 1000) * 1000))
      .then((kv) => kv.put(key, JSON.stringify(value)))
      .then(() => {
        if (this.bucketsLink === link) this.opened.add(name);
      })
      .catch((error: unknown) => {
        if (this.warned) return;
        this.warned = true;
        this.logger.warn(
          { err: error, bucket: name },
          "nats backing: a journey report was not stored",
        );
      })
      .finally(() => {
        this.inFlight--;
      });
  }
}
