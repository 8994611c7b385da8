/**
 * The dead-letter store as the operations API sees it (CONTRACT §11): trigger runtimes keep the
 * events they give up on here, `GET /api/v1/deadletters` lists them, and a redrive delivers them
 * again through their trigger's current subscriber and delivery rules, removing each entry only
 * once it was delivered. An entry is never marked "in progress": a redrive cut short by a crash
 * leaves every entry not yet delivered in the store, and the next redrive takes them (one
 * delivered just before the crash may go out twice, which at-least-once allows).
 */
import type { Backing } from "../backing/backing.js";
import type {
  DeadLetterEntry,
  DeadLetterKeeper,
  DeadLetterRecord,
  DeadLetterStore,
} from "../backing/dead-letter.js";
import { type Attributes, eventLogFields } from "../events/event.js";
import { toJsonObject } from "../events/json-format.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import { DeadLetterRing } from "./dead-letter-ring.js";
import {
  type FromBrokerDeps,
  RedriveRefusedError,
  redriveFromBroker,
} from "./redrive-from-broker.js";

/** CONTRACT §11: entries kept per namespace when `--dead-letter-size` is not given. */
export const DEFAULT_DEAD_LETTER_SIZE = 10_000;
/** Entries read from a store at a time during a redrive. */
const PAGE = 256;
/** Entries redelivered at once during a redrive. */
const REDRIVE_CONCURRENCY = 8;

/** One entry as `GET /api/v1/deadletters` answers it. */
export interface DeadLetterJson {
  entryId: string;
  kind: "Trigger" | "Subscription";
  name: string;
  attempts: number;
  /** RFC 3339. */
  at: string;
  knativeerrordest: string;
  knativeerrorcode?: string;
  knativeerrordata?: string;
  error?: string;
  /** "reply": an entry of an earlier version holding a failed reply (a redrive sends it there). */
  step?: "reply";
  /** The event in the JSON format (`data_base64` for binary data). */
  event: Record<string, unknown>;
}

export interface RedriveRequest {
  readonly namespace: string;
  readonly entryIds?: readonly string[];
  /** CESQL over the event's attributes and the `knativeerror*` context. */
  readonly filter?: string;
  /** A Destination to deliver to instead of the trigger's subscriber. */
  readonly to?: unknown;
  /** "NS/NAME": redrive a dead-letter Broker's archive instead (redrive-from-broker.ts). */
  readonly fromBroker?: string;
}

export interface RedriveResult {
  redriven: number;
  failed: number;
}

/**
 * Delivers a dead letter again, to its trigger's current subscriber (or `to`) under that
 * trigger's current delivery rules; true once delivered. The runtime provides it.
 */
export type Redeliver = (
  namespace: string,
  entry: DeadLetterEntry,
  to?: unknown,
) => Promise<boolean>;

export class DeadLetters implements DeadLetterKeeper {
  private readonly ring = new DeadLetterRing();
  /** The engine stores of the backings triggers run on (listed and redriven with the ring). */
  private readonly stores = new Set<DeadLetterStore>();
  private redeliver: Redeliver = async () => false;

  constructor(
    readonly size: number,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  setRedeliver(redeliver: Redeliver): void {
    this.redeliver = redeliver;
  }

  private fromBroker: FromBrokerDeps | undefined;

  /** Where `fromBroker` redrives find the broker's archive and send its events. */
  setFromBroker(deps: FromBrokerDeps): void {
    this.fromBroker = deps;
  }

  attach(backing: Backing): void {
    if (backing.deadLetters !== undefined) this.stores.add(backing.deadLetters);
  }

  async keep(backing: Backing, namespace: string, record: DeadLetterRecord): Promise<void> {
    const store = backing.deadLetters ?? this.ring;
    const pushedOut = await store.add(namespace, record, this.size);
    this.metrics.deadLetters.inc({ namespace, trigger: record.name });
    if (pushedOut > 0) {
      this.metrics.droppedEvents.inc({ namespace, reason: "dead-letter-store-full" }, pushedOut);
    }
    this.logger.warn(
      {
        ...eventLogFields(record.event),
        namespace,
        [record.kind === "Trigger" ? "trigger" : "subscription"]: record.name,
        url: record.knativeerrordest,
        status: record.knativeerrorcode,
        attempts: record.attempts,
        error: record.error,
        ...(pushedOut > 0 ? { pushedOut } : {}),
      },
      "delivery failed: event kept in the dead-letter store",
    );
  }

  /** Up to `limit` entries of the namespace, oldest first. */
  async list(namespace: string, limit: number): Promise<DeadLetterJson[]> {
    const entries: DeadLetterEntry[] = [];
    for (const store of this.allStores()) {
      if (entries.length >= limit) break;
      entries.push(...(await store.list(namespace, undefined, limit - entries.length)));
    }
    return entries.sort((a, b) => a.at - b.at).map(entryJson);
  }

  /** Throws when the filter does not compile (the API answers 400). */
  async redrive(request: RedriveRequest): Promise<RedriveResult> {
    if (request.fromBroker !== undefined) {
      if (this.fromBroker === undefined) {
        throw new RedriveRefusedError("invalid", "fromBroker: no broker archive here");
      }
      return redriveFromBroker(this.fromBroker, {
        fromBroker: request.fromBroker,
        ...(request.filter === undefined ? {} : { filter: request.filter }),
      });
    }
    const matches =
      request.filter === undefined ? undefined : compileCesqlPredicate(request.filter);
    const wanted = request.entryIds === undefined ? undefined : new Set(request.entryIds);
    const { namespace } = request;
    const result: RedriveResult = { redriven: 0, failed: 0 };
    const one = async (store: DeadLetterStore, entry: DeadLetterEntry) => {
      let delivered = false;
      try {
        delivered = await this.redeliver(namespace, entry, request.to);
      } catch (error) {
        this.logger.warn({ err: error, namespace, entryId: entry.entryId }, "redrive failed");
      }
      if (!delivered) {
        result.failed++;
        return;
      }
      // Removed only now: a crash before this line leaves the entry for the next redrive.
      await store.remove(namespace, entry.entryId);
      result.redriven++;
    };
    for (const store of this.allStores()) {
      let after: string | undefined;
      for (;;) {
        const page = await store.list(namespace, after, PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1]!.entryId;
        const chosen = page.filter(
          (entry) =>
            (wanted === undefined || wanted.has(entry.entryId)) &&
            (matches === undefined || matches(filterView(entry))),
        );
        await eachAtMost(REDRIVE_CONCURRENCY, chosen, (entry) => one(store, entry));
      }
    }
    return result;
  }

  private allStores(): DeadLetterStore[] {
    return [this.ring, ...this.stores];
  }
}

/** What a redrive filter sees: the event's attributes plus the error context. */
function filterView(entry: DeadLetterEntry): Attributes {
  return {
    ...entry.event.attributes,
    knativeerrordest: entry.knativeerrordest,
    ...(entry.knativeerrorcode === undefined ? {} : { knativeerrorcode: entry.knativeerrorcode }),
    ...(entry.knativeerrordata === undefined ? {} : { knativeerrordata: entry.knativeerrordata }),
  };
}

function entryJson(entry: DeadLetterEntry): DeadLetterJson {
  return {
    entryId: entry.entryId,
    kind: entry.kind,
    name: entry.name,
    attempts: entry.attempts,
    at: new Date(entry.at).toISOString(),
    knativeerrordest: entry.knativeerrordest,
    ...(entry.knativeerrorcode === undefined ? {} : { knativeerrorcode: entry.knativeerrorcode }),
    ...(entry.knativeerrordata === undefined ? {} : { knativeerrordata: entry.knativeerrordata }),
    ...(entry.error === undefined ? {} : { error: entry.error }),
    ...(entry.step === undefined ? {} : { step: entry.step }),
    event: toJsonObject(entry.event),
  };
}

/** Runs `work` on every item, at most `limit` at a time. */
async function eachAtMost<T>(
  limit: number,
  items: readonly T[],
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
