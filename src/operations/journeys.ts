/**
 * Journeys (CONTRACT §11, "where did my event go"): the recorder runtimes report to, and the
 * query behind `GET /api/v1/events/{namespace}/{id}`. Events on a memory backing are kept in this
 * process's ring; events on a durable backing go to its engine's JourneyStore, so any process of a
 * scale-out answers and a restart keeps them.
 */
import type { Backing } from "../backing/backing.js";
import type {
  AcceptedRecord,
  JourneyRecorder,
  JourneyStore,
  RouteRecord,
  StoredJourney,
} from "../backing/journey.js";
import { compileTriggerFilter } from "../broker/trigger.js";
import type { CloudEvent } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { triggerBroker } from "../resources/broker-config.js";
import { parseIsoDuration } from "../resources/duration.js";
import type { Resource, TriggerSpec } from "../resources/types.js";
import type { TriggerFilterSpec } from "../triggers/filter.js";
import { type JourneyJson, journeyJson } from "./journey-json.js";
import { InternedStrings, JourneyRing } from "./journey-ring.js";

export const DEFAULT_JOURNEY_SIZE = 100_000;
export const RETENTION_ANNOTATION = "eventail.io/journey.retention";
const DEFAULT_RETENTION_MS = 24 * 3600 * 1000;

/** What a lookup found: one journey, several sources for the id (409), or nothing (404). */
export type JourneyLookup =
  | { readonly kind: "found"; readonly journey: JourneyJson }
  | { readonly kind: "ambiguous"; readonly sources: string[] }
  | { readonly kind: "unknown" };

/** A trigger whose filter pins one type: a backing may skip other events without telling it. */
interface TypedTrigger {
  readonly name: string;
  readonly type: string;
}

export class Journeys implements JourneyRecorder {
  private readonly ring: JourneyRing;
  /** Event types, held once by the ring's records rather than once per event. */
  private readonly types = new InternedStrings();
  /** The engine stores of the backings brokers and channels run on (asked on lookup). */
  private readonly stores = new Set<JourneyStore>();
  private lastStamp = "";
  private lastArrival = Number.NaN;
  private retentions = new Map<string, number>();
  private typedTriggers = new Map<string, TypedTrigger[]>();
  private readonly namespaces = new Map<string, string>();
  private baseUrl = "http://127.0.0.1:8080";

  constructor(
    readonly size: number,
    private readonly logger?: Logger,
  ) {
    this.ring = new JourneyRing(size);
  }

  /** False with `--journey-size 0`: nothing is recorded, the API answers 404. */
  get enabled(): boolean {
    return this.size > 0;
  }

  setBaseUrl(url: string): void {
    this.baseUrl = url;
  }

  /** Follows the resources: each Broker's retention, and its triggers that pin a type. */
  configure(resources: readonly Resource[]): void {
    const retentions = new Map<string, number>();
    const typed = new Map<string, TypedTrigger[]>();
    for (const resource of resources) {
      const { namespace, name, annotations } = resource.metadata;
      if (resource.kind === "Broker") {
        const text = annotations?.[RETENTION_ANNOTATION];
        const ms = text === undefined ? undefined : parseIsoDuration(text);
        if (ms !== undefined && ms > 0) retentions.set(`broker.${namespace}.${name}`, ms);
      } else if (resource.kind === "Trigger") {
        const spec = (resource.spec ?? {}) as TriggerSpec;
        let type: string | undefined;
        try {
          type = compileTriggerFilter(spec as unknown as TriggerFilterSpec).requiredType;
        } catch {
          type = undefined;
        }
        if (type === undefined) continue;
        const broker = triggerBroker(resource as Resource<TriggerSpec>);
        const stream = `broker.${broker.namespace}.${broker.name}`;
        const list = typed.get(stream) ?? [];
        list.push({ name, type });
        typed.set(stream, list);
      }
    }
    this.retentions = retentions;
    this.typedTriggers = typed;
  }

  attach(backing: Backing): void {
    if (this.enabled && backing.journeys !== undefined) this.stores.add(backing.journeys);
  }

  accepted(backing: Backing, stream: string, events: readonly CloudEvent[]): void {
    if (!this.enabled) return;
    const namespace = this.namespaceOf(stream);
    const store = backing.journeys;
    const at = this.arrivalOf(events[0]);
    for (const event of events) {
      const a = event.attributes;
      const traceparent = a["traceparent"];
      const size = event.data?.length ?? 0;
      const type = this.types.of(String(a["type"]));
      const id = String(a["id"]);
      const source = String(a["source"]);
      const trace = traceparent === undefined ? undefined : String(traceparent);
      if (store === undefined) {
        // The ring takes the fields: no record per event.
        this.ring.accept(namespace, id, source, at, stream, size, type, trace);
        continue;
      }
      // Two literals rather than a spread: this runs once per accepted event.
      const record: AcceptedRecord =
        trace === undefined
          ? { at, stream, size, type }
          : { at, stream, size, type, traceparent: trace };
      store.writeAccepted(namespace, id, source, record, this.retentionOf(stream));
    }
  }

  /**
   * When the request came in: a broker's ingress stamp (shared by the events of one publish), so a
   * consumer that takes the event before the engine's acknowledgement reaches the publisher does
   * not show an attempt before the acceptance. Channels stamp nothing: the report's own time.
   */
  private arrivalOf(event: CloudEvent | undefined): number {
    const stamp = event?.attributes["knativearrivaltime"];
    if (typeof stamp !== "string") return Date.now();
    if (stamp !== this.lastStamp) {
      this.lastStamp = stamp;
      this.lastArrival = Date.parse(stamp);
    }
    return Number.isNaN(this.lastArrival) ? Date.now() : this.lastArrival;
  }

  withdrawn(backing: Backing, stream: string, events: readonly CloudEvent[]): void {
    if (!this.enabled || backing.journeys !== undefined) return;
    const namespace = this.namespaceOf(stream);
    for (const event of events) {
      this.ring.remove(
        namespace,
        String(event.attributes["id"]),
        String(event.attributes["source"]),
      );
    }
  }

  routed(backing: Backing, stream: string, event: CloudEvent, route: RouteRecord): void {
    if (!this.enabled) return;
    const namespace = this.namespaceOf(stream);
    const a = event.attributes;
    const id = String(a["id"]);
    const source = String(a["source"]);
    const store = backing.journeys;
    if (store === undefined) this.ring.route(namespace, id, source, route);
    else store.writeRoute(namespace, id, source, route, this.retentionOf(stream));
  }

  /** The journey of (namespace, id[, source]) from the ring and every engine store. */
  async lookup(namespace: string, id: string, source?: string): Promise<JourneyLookup> {
    const found = new Map<string, StoredJourney>();
    const merge = (journey: StoredJourney) => {
      const seen = found.get(journey.source);
      if (seen === undefined) found.set(journey.source, journey);
      else {
        const routes = [...seen.routes];
        for (const route of journey.routes) {
          if (!routes.some((r) => r.kind === route.kind && r.name === route.name))
            routes.push(route);
        }
        const accepted = seen.accepted ?? journey.accepted;
        found.set(journey.source, {
          source: journey.source,
          routes,
          ...(accepted ? { accepted } : {}),
        });
      }
    };
    for (const journey of this.ring.get(namespace, id)) merge(journey);
    for (const store of this.stores) {
      try {
        for (const journey of await store.read(namespace, id)) merge(journey);
      } catch (error) {
        this.logger?.warn({ err: error, namespace, id }, "journey store could not be read");
      }
    }
    if (source !== undefined) {
      const journey = found.get(source);
      if (journey === undefined) return { kind: "unknown" };
      return { kind: "found", journey: this.toJson(namespace, id, journey) };
    }
    if (found.size === 0) return { kind: "unknown" };
    if (found.size > 1) return { kind: "ambiguous", sources: [...found.keys()].sort() };
    const [journey] = found.values();
    return { kind: "found", journey: this.toJson(namespace, id, journey!) };
  }

  private toJson(namespace: string, id: string, journey: StoredJourney): JourneyJson {
    const stream = journey.accepted?.stream;
    const typed = stream === undefined ? [] : (this.typedTriggers.get(stream) ?? []);
    return journeyJson(namespace, id, journey, {
      address: stream === undefined ? undefined : this.addressOf(stream),
      // A backing skips events of another type for a trigger that pins one: no report came.
      skipped: typed.filter((t) => t.type !== journey.accepted?.type).map((t) => t.name),
    });
  }

  private addressOf(stream: string): string {
    const [kind, namespace, name] = stream.split(".");
    return kind === "channel"
      ? `${this.baseUrl}/channels/${namespace}/${name}`
      : `${this.baseUrl}/${namespace}/${name}`;
  }

  private retentionOf(stream: string): number {
    return this.retentions.get(stream) ?? DEFAULT_RETENTION_MS;
  }

  /** Streams are `broker.NS.NAME` / `channel.NS.NAME`; namespaces hold no dot. */
  private namespaceOf(stream: string): string {
    let namespace = this.namespaces.get(stream);
    if (namespace === undefined) {
      namespace = stream.split(".")[1] ?? "";
      this.namespaces.set(stream, namespace);
    }
    return namespace;
  }
}
