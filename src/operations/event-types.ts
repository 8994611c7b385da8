/**
 * The EventType registry (CONTRACT §11): declared EventTypes, those created on first sight per
 * (broker, type, source) when `config-features` sets `eventtype-auto-create: enabled`, each with
 * a JSON Schema of its data (declared, or inferred and widened as events arrive), and the schema
 * check of brokers annotated `eventail.io/ingress.validate: schema`.
 *
 * Ingress pays little: `seen` adds to counters in memory and a timer flushes them (to the
 * backing's store when its engine has one, else to memory) once a second; nothing on the data
 * path waits on an engine.
 */
import { createHash } from "node:crypto";
import type { ValidateFunction } from "ajv";
import type { Backing } from "../backing/backing.js";
import {
  type EventTypeStore,
  EventTypesNotWrittenError,
  type ObservedEventType,
} from "../backing/event-type-store.js";
import { type EventTypeGate, SchemaMismatchError } from "../broker/event-type-gate.js";
import type { CloudEvent } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { readFeatures } from "../resources/features.js";
import type { EventTypeSpec, Resource } from "../resources/types.js";
import { type JsonSchema, mergeSchemas, publicSchema, widen } from "./schema-infer.js";
import { firstFailure, SchemaCache } from "./schema-validator.js";

export const VALIDATE_ANNOTATION = "eventail.io/ingress.validate";
export const SCHEMA_ANNOTATION = "eventail.io/schema-data";
export const COUNT_ANNOTATION = "eventail.io/count";
export const FIRST_SEEN_ANNOTATION = "eventail.io/first-seen";
export const LAST_SEEN_ANNOTATION = "eventail.io/last-seen";

const EVENT_TYPE_API = "eventing.knative.dev/v1beta2";
const DEFAULT_FLUSH_MS = 1000;
/**
 * Events per (broker, type, source) whose data widens the schema between two flushes; the rest
 * are only counted. Inference parses the data, which a busy type should not pay on every event:
 * like EventBridge's schema discovery, the schema is learnt from a sample.
 */
export const WIDEN_PER_FLUSH = 64;
/**
 * Auto-created EventTypes this process keeps in memory at most, and new ones one flush may add:
 * a source per device or per user would otherwise grow the registry with every event. Past it,
 * new (broker, type, source) are not created (said once in the log); known ones still count.
 */
export const MAX_ENTRIES = 10_000;

/** A declared EventType, read once per configuration. */
interface Declared {
  readonly resource: Resource<EventTypeSpec>;
  readonly broker?: string;
  readonly type?: string;
  readonly source?: string;
  /** The schema's JSON text, when it declares one that parses. */
  readonly schemaText?: string;
}

interface Rule {
  readonly source?: string;
  readonly type: string;
  readonly validate: ValidateFunction;
}

interface Pending {
  readonly namespace: string;
  readonly broker: string;
  readonly type: string;
  readonly source: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  schema?: JsonSchema;
  widened: number;
}

const mergeUnknown = (a: unknown, b: unknown) =>
  a === undefined ? b : b === undefined ? a : mergeSchemas(a as JsonSchema, b as JsonSchema);

/** Auto-created EventTypes of a backing with no store of its own: this process's memory. */
export class MemoryEventTypeStore implements EventTypeStore {
  private readonly entries = new Map<string, ObservedEventType>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  async add(
    observations: readonly ObservedEventType[],
    mergeSchema: (a: unknown, b: unknown) => unknown,
  ): Promise<void> {
    for (const o of observations) {
      const id = entryKey(o.namespace, o.broker, o.type, o.source);
      const old = this.entries.get(id);
      if (old === undefined && this.entries.size >= this.maxEntries) continue;
      this.entries.set(id, old === undefined ? o : combine(old, o, mergeSchema));
    }
  }

  async list(namespace?: string): Promise<ObservedEventType[]> {
    return [...this.entries.values()].filter(
      (o) => namespace === undefined || o.namespace === namespace,
    );
  }
}

/** Two observations of the same entry as one. */
export function combine(
  a: ObservedEventType,
  b: ObservedEventType,
  mergeSchema: (a: unknown, b: unknown) => unknown,
): ObservedEventType {
  const schema = mergeSchema(a.schema, b.schema);
  return {
    namespace: a.namespace,
    broker: a.broker,
    type: a.type,
    source: a.source,
    count: a.count + b.count,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    ...(schema === undefined ? {} : { schema }),
  };
}

function entryKey(namespace: string, broker: string, type: string, source: string): string {
  return JSON.stringify([namespace, broker, type, source]);
}

/** Knative names auto-created EventTypes after a hash; this is a stable, DNS-label-safe one. */
export function autoCreatedName(broker: string, type: string, source: string): string {
  const hash = createHash("sha256").update(`${type}\n${source}`).digest("hex").slice(0, 12);
  const prefix = `et-${broker.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 49);
  return `${prefix}-${hash}`;
}

/** Type, source, broker and schema of a declared EventType, v1beta2 or v1beta3. */
function readDeclared(resource: Resource<EventTypeSpec>): Declared {
  const spec = resource.spec ?? {};
  const attribute = (name: string) => spec.attributes?.find((a) => a.name === name)?.value;
  const type = spec.type ?? attribute("type");
  const source = spec.source ?? attribute("source");
  const ref = spec.reference;
  const broker = spec.broker ?? (ref?.kind === "Broker" ? ref.name : undefined);
  const text = resource.apiVersion.endsWith("/v1beta3")
    ? resource.metadata.annotations?.[SCHEMA_ANNOTATION]
    : (spec.schemaData ?? resource.metadata.annotations?.[SCHEMA_ANNOTATION]);
  let schemaText: string | undefined;
  if (text !== undefined && text.trim() !== "") {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null) schemaText = JSON.stringify(parsed);
    } catch {
      // Not JSON: validation reports it; the registry shows the text and checks nothing.
    }
  }
  return {
    resource,
    ...(broker !== undefined ? { broker } : {}),
    ...(type !== undefined ? { type } : {}),
    ...(source !== undefined ? { source } : {}),
    ...(schemaText !== undefined ? { schemaText } : {}),
  };
}

/** Is the data of `event` JSON to parse (a JSON media type, or none said)? */
function jsonData(event: CloudEvent): boolean {
  const type = event.attributes["datacontenttype"];
  if (type === undefined) return true;
  const media = String(type).split(";")[0]!.trim().toLowerCase();
  return media === "application/json" || media === "text/json" || media.endsWith("+json");
}

export interface EventTypeRegistryOptions {
  readonly logger: Logger;
  readonly flushMs?: number;
}

export class EventTypeRegistry implements EventTypeGate {
  private autoCreate = false;
  private declared: Declared[] = [];
  /** `namespace/broker` of each validating broker → type → its rules. */
  private validating = new Map<string, Map<string, Rule[]>>();
  private readonly schemas = new SchemaCache();
  private pending = new Map<Backing, Map<string, Pending>>();
  private readonly memory = new MemoryEventTypeStore();
  private readonly backings = new Set<Backing>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: EventTypeRegistryOptions) {
    this.timer = setInterval(() => {
      void this.flush();
    }, options.flushMs ?? DEFAULT_FLUSH_MS);
    this.timer.unref();
  }

  /** Compilations the schema cache ran, for tests. */
  get compilations(): number {
    return this.schemas.compilations;
  }

  /** Follows a new configuration: the feature flag, declared EventTypes, validating brokers. */
  configure(resources: readonly Resource[]): void {
    const features = resources.find(
      (r) =>
        r.kind === "ConfigMap" &&
        r.metadata.namespace === "knative-eventing" &&
        r.metadata.name === "config-features",
    );
    this.autoCreate =
      readFeatures(features?.data as Record<string, string> | undefined)[
        "eventtype-auto-create"
      ] === "enabled";
    this.declared = resources
      .filter((r) => r.kind === "EventType")
      .map((r) => readDeclared(r as Resource<EventTypeSpec>));
    const validating = new Map<string, Map<string, Rule[]>>();
    const used = new Set<string>();
    for (const broker of resources) {
      if (broker.kind !== "Broker") continue;
      if (broker.metadata.annotations?.[VALIDATE_ANNOTATION]?.trim() !== "schema") continue;
      const { namespace, name } = broker.metadata;
      const byType = new Map<string, Rule[]>();
      for (const d of this.declared) {
        if (d.resource.metadata.namespace !== namespace || d.type === undefined) continue;
        if (d.schemaText === undefined || (d.broker !== undefined && d.broker !== name)) continue;
        let validate: ValidateFunction;
        try {
          validate = this.schemas.get(d.schemaText);
        } catch (error) {
          this.options.logger.warn(
            { eventType: `${namespace}/${d.resource.metadata.name}`, reason: String(error) },
            "EventType schema does not compile; its events are not checked",
          );
          continue;
        }
        used.add(d.schemaText);
        const rules = byType.get(d.type) ?? [];
        rules.push({ type: d.type, validate, ...(d.source ? { source: d.source } : {}) });
        // Rules naming the source come first: they are the more specific.
        rules.sort((a, b) => Number(b.source !== undefined) - Number(a.source !== undefined));
        byType.set(d.type, rules);
      }
      validating.set(`${namespace}/${name}`, byType);
    }
    this.schemas.retain(used);
    this.validating = validating;
  }

  attach(backing: Backing): void {
    this.backings.add(backing);
  }

  check(namespace: string, broker: string, events: readonly CloudEvent[]): void {
    const rules = this.validating.get(`${namespace}/${broker}`);
    if (rules === undefined || rules.size === 0) return;
    for (const event of events) {
      const candidates = rules.get(String(event.attributes["type"]));
      if (candidates === undefined) continue;
      const source = String(event.attributes["source"]);
      const rule = candidates.find((r) => r.source === undefined || r.source === source);
      if (rule === undefined) continue;
      const failure = dataFailure(rule, event);
      if (failure !== undefined) {
        throw new SchemaMismatchError(
          `data of event ${String(event.attributes["id"])} does not match the schema of ` +
            `${rule.type} at ${JSON.stringify(failure.pointer)}: ${failure.message}`,
          failure.pointer,
        );
      }
    }
  }

  seen(backing: Backing, namespace: string, broker: string, events: readonly CloudEvent[]): void {
    if (!this.autoCreate) return;
    let entries = this.pending.get(backing);
    if (entries === undefined) {
      entries = new Map();
      this.pending.set(backing, entries);
    }
    const now = Date.now();
    for (const event of events) {
      const type = String(event.attributes["type"]);
      const source = String(event.attributes["source"]);
      const id = entryKey(namespace, broker, type, source);
      let entry = entries.get(id);
      if (entry === undefined) {
        if (entries.size >= MAX_ENTRIES) {
          this.full();
          continue;
        }
        entry = {
          namespace,
          broker,
          type,
          source,
          count: 0,
          firstSeen: now,
          lastSeen: now,
          widened: 0,
        };
        entries.set(id, entry);
      }
      entry.count++;
      entry.lastSeen = now;
      if (entry.widened < WIDEN_PER_FLUSH && event.data !== undefined && jsonData(event)) {
        entry.widened++;
        try {
          entry.schema = widen(entry.schema, JSON.parse(event.data.toString("utf8")));
        } catch {
          // Data that says it is JSON and is not: counted, no schema to learn from.
        }
      }
    }
  }

  private warnedFull = false;

  private full(): void {
    if (this.warnedFull) return;
    this.warnedFull = true;
    this.options.logger.warn(
      { max: MAX_ENTRIES },
      "EventType registry: too many new (broker, type, source) within one flush; not creating more",
    );
  }

  /** Hands what was counted since the last flush to the stores; one flush at a time. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    if (this.pending.size === 0) return;
    const batches = this.pending;
    this.pending = new Map();
    for (const [backing, entries] of batches) {
      const observations = [...entries.values()].map(
        ({ widened: _w, schema, ...rest }): ObservedEventType => ({
          ...rest,
          ...(schema === undefined ? {} : { schema }),
        }),
      );
      try {
        await (backing.eventTypes ?? this.memory).add(observations, mergeUnknown);
      } catch (error) {
        this.options.logger.warn(
          { backing: backing.kind, reason: (error as Error).message },
          "EventTypes could not be written; keeping the counts for the next flush",
        );
        // Only what the store says it did not add goes back, so nothing is counted twice.
        const back =
          error instanceof EventTypesNotWrittenError
            ? new Set(error.unwritten.map((o) => entryKey(o.namespace, o.broker, o.type, o.source)))
            : undefined;
        const current = this.pending.get(backing) ?? new Map<string, Pending>();
        for (const [id, entry] of entries) {
          if (back !== undefined && !back.has(id)) continue;
          const later = current.get(id);
          current.set(id, later === undefined ? entry : mergePending(entry, later));
        }
        this.pending.set(backing, current);
      }
    }
  }

  /** Every EventType as `eventail get eventtypes` shows it: declared ones, then auto-created. */
  async list(namespace?: string): Promise<Record<string, unknown>[]> {
    await this.flush();
    const observed = new Map<string, ObservedEventType>();
    const stores = new Set<EventTypeStore>([this.memory]);
    for (const backing of this.backings) if (backing.eventTypes) stores.add(backing.eventTypes);
    for (const store of stores) {
      let entries: ObservedEventType[];
      try {
        entries = await store.list(namespace, mergeUnknown);
      } catch (error) {
        this.options.logger.warn(
          { reason: (error as Error).message },
          "EventTypes could not be read from a backing",
        );
        continue;
      }
      for (const o of entries) {
        const id = entryKey(o.namespace, o.broker, o.type, o.source);
        const old = observed.get(id);
        observed.set(id, old === undefined ? o : combine(old, o, mergeUnknown));
      }
    }
    const views: Record<string, unknown>[] = [];
    for (const d of this.declared) {
      const { metadata } = d.resource;
      if (namespace !== undefined && metadata.namespace !== namespace) continue;
      let match: ObservedEventType | undefined;
      if (d.broker !== undefined && d.type !== undefined && d.source !== undefined) {
        const id = entryKey(metadata.namespace, d.broker, d.type, d.source);
        match = observed.get(id);
        observed.delete(id);
      }
      views.push(declaredView(d, match));
    }
    const sorted = [...observed.values()].sort(
      (a, b) =>
        a.namespace.localeCompare(b.namespace) ||
        a.broker.localeCompare(b.broker) ||
        a.type.localeCompare(b.type) ||
        a.source.localeCompare(b.source),
    );
    for (const o of sorted) views.push(observedView(o));
    return views;
  }

  /** Stops the timer and writes what is pending. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}

function mergePending(a: Pending, b: Pending): Pending {
  const schema = mergeUnknown(a.schema, b.schema) as JsonSchema | undefined;
  return {
    ...a,
    count: a.count + b.count,
    firstSeen: Math.min(a.firstSeen, b.firstSeen),
    lastSeen: Math.max(a.lastSeen, b.lastSeen),
    widened: Math.max(a.widened, b.widened),
    ...(schema === undefined ? {} : { schema }),
  };
}

/** The first failure of `event`'s data against `rule`, or undefined when it matches. */
function dataFailure(
  rule: Rule,
  event: CloudEvent,
): { pointer: string; message: string } | undefined {
  if (event.data === undefined) {
    // No data is checked as JSON null: a schema that allows null allows an event without data.
    return firstFailure(rule.validate, null) && { pointer: "", message: "the event has no data" };
  }
  if (!jsonData(event)) {
    return {
      pointer: "",
      message: `data is ${String(event.attributes["datacontenttype"])}, not JSON`,
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(event.data.toString("utf8"));
  } catch {
    return { pointer: "", message: "data is not valid JSON" };
  }
  return firstFailure(rule.validate, value);
}

function seenAnnotations(o: ObservedEventType): Record<string, string> {
  return {
    [COUNT_ANNOTATION]: String(o.count),
    [FIRST_SEEN_ANNOTATION]: new Date(o.firstSeen).toISOString(),
    [LAST_SEEN_ANNOTATION]: new Date(o.lastSeen).toISOString(),
  };
}

const READY = { conditions: [{ type: "Ready", status: "True" }] };

function schemaText(schema: unknown): string {
  return JSON.stringify(publicSchema(schema as JsonSchema), null, 2);
}

function declaredView(d: Declared, seen: ObservedEventType | undefined): Record<string, unknown> {
  const { resource } = d;
  const v1beta3 = resource.apiVersion.endsWith("/v1beta3");
  const annotations: Record<string, string> = { ...resource.metadata.annotations };
  const spec: Record<string, unknown> = { ...resource.spec };
  if (seen !== undefined) {
    Object.assign(annotations, seenAnnotations(seen));
    // A declared schema wins; one inferred from the events fills in where none is declared.
    if (d.schemaText === undefined && seen.schema !== undefined) {
      if (v1beta3) annotations[SCHEMA_ANNOTATION] = schemaText(seen.schema);
      else spec["schemaData"] = schemaText(seen.schema);
    }
  }
  return {
    apiVersion: resource.apiVersion,
    kind: "EventType",
    metadata: {
      ...resource.metadata,
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec,
    status: READY,
  };
}

function observedView(o: ObservedEventType): Record<string, unknown> {
  return {
    apiVersion: EVENT_TYPE_API,
    kind: "EventType",
    metadata: {
      name: autoCreatedName(o.broker, o.type, o.source),
      namespace: o.namespace,
      creationTimestamp: new Date(o.firstSeen).toISOString(),
      labels: { "eventail.io/auto-created": "true" },
      annotations: seenAnnotations(o),
    },
    spec: {
      reference: { apiVersion: "eventing.knative.dev/v1", kind: "Broker", name: o.broker },
      type: o.type,
      source: o.source,
      ...(o.schema === undefined ? {} : { schemaData: schemaText(o.schema) }),
    },
    status: READY,
  };
}
