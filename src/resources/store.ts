/**
 * The typed cache of resources runtimes read from, by kind, namespace and name. Whoever reads
 * manifests (the file loader today, a Kubernetes controller later) hands it the full desired set;
 * it works out what was added, modified or deleted and tells listeners, so runtimes react to
 * changes (hot reload) and never read files themselves.
 *
 * Changes are emitted in dependency order: deletions first, dependents before what they depend on
 * (a Trigger before its Broker), then additions and modifications the other way round
 * (ConfigMaps, Brokers and channels before the Triggers and Subscriptions that use them).
 * A resource counts as modified only when its content changed, not when it merely moved in its file.
 */
import { EventEmitter } from "node:events";
import type { KnownKind, Resource, ResourceKinds } from "./types.js";

export type ResourceChange =
  | { readonly type: "added"; readonly resource: Resource }
  | { readonly type: "modified"; readonly resource: Resource; readonly previous: Resource }
  | { readonly type: "deleted"; readonly resource: Resource };

interface StoreEvents {
  /** One event per changed resource. */
  change: [change: ResourceChange];
  /** Once per replaceAll/apply/remove that changed anything, with every change in order. */
  changes: [changes: readonly ResourceChange[]];
}

const APPLY_ORDER: Readonly<Record<string, number>> = {
  ConfigMap: 0,
  Secret: 0,
  Broker: 1,
  InMemoryChannel: 2,
  KafkaChannel: 2,
  NatsJetStreamChannel: 2,
  RedisStreamChannel: 2,
  Channel: 3,
  IntegrationSink: 4,
  Sequence: 5,
  Parallel: 5,
  Trigger: 6,
  Subscription: 6,
};
/** Sources and kinds added later only send to things above, so they come last. */
const LAST = 7;

export class ResourceStore {
  private byKind = new Map<string, Map<string, Resource>>();
  private readonly fingerprints = new WeakMap<Resource, string>();
  private readonly emitter = new EventEmitter<StoreEvents>();

  get<K extends KnownKind>(kind: K, namespace: string, name: string): ResourceKinds[K] | undefined;
  get(kind: string, namespace: string, name: string): Resource | undefined;
  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.byKind.get(kind)?.get(`${namespace}/${name}`);
  }

  /** Every resource of a kind, in the order they were given. */
  list<K extends KnownKind>(kind: K): ResourceKinds[K][];
  list(kind: string): Resource[];
  list(kind: string): Resource[] {
    return [...(this.byKind.get(kind)?.values() ?? [])];
  }

  all(): Resource[] {
    return [...this.byKind.values()].flatMap((byName) => [...byName.values()]);
  }

  get size(): number {
    let count = 0;
    for (const byName of this.byKind.values()) count += byName.size;
    return count;
  }

  /**
   * Makes `resources` the whole content of the store and emits what changed. When a kind,
   * namespace and name appears twice, the first wins (validation reports the duplicate).
   */
  replaceAll(resources: readonly Resource[]): ResourceChange[] {
    const next = new Map<string, Map<string, Resource>>();
    for (const resource of resources) {
      const byName = next.get(resource.kind) ?? new Map<string, Resource>();
      next.set(resource.kind, byName);
      const id = `${resource.metadata.namespace}/${resource.metadata.name}`;
      if (!byName.has(id)) byName.set(id, resource);
    }
    const changes: ResourceChange[] = [];
    for (const [kind, byName] of this.byKind) {
      for (const [id, previous] of byName) {
        if (!next.get(kind)?.has(id)) changes.push({ type: "deleted", resource: previous });
      }
    }
    for (const [kind, byName] of next) {
      for (const [id, resource] of byName) {
        const previous = this.byKind.get(kind)?.get(id);
        if (!previous) changes.push({ type: "added", resource });
        else if (this.fingerprint(previous) !== this.fingerprint(resource)) {
          changes.push({ type: "modified", resource, previous });
        }
      }
    }
    this.byKind = next;
    return this.emit(changes);
  }

  /** Adds or replaces one resource (for feeds that see one change at a time). */
  apply(resource: Resource): ResourceChange | undefined {
    const previous = this.get(resource.kind, resource.metadata.namespace, resource.metadata.name);
    const byName = this.byKind.get(resource.kind) ?? new Map<string, Resource>();
    this.byKind.set(resource.kind, byName);
    byName.set(`${resource.metadata.namespace}/${resource.metadata.name}`, resource);
    if (previous && this.fingerprint(previous) === this.fingerprint(resource)) return undefined;
    const change: ResourceChange = previous
      ? { type: "modified", resource, previous }
      : { type: "added", resource };
    return this.emit([change])[0];
  }

  remove(kind: string, namespace: string, name: string): ResourceChange | undefined {
    const previous = this.get(kind, namespace, name);
    if (!previous) return undefined;
    this.byKind.get(kind)!.delete(`${namespace}/${name}`);
    return this.emit([{ type: "deleted", resource: previous }])[0];
  }

  on<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this {
    this.emitter.on(event, listener as never);
    return this;
  }

  off<E extends keyof StoreEvents>(event: E, listener: (...args: StoreEvents[E]) => void): this {
    this.emitter.off(event, listener as never);
    return this;
  }

  /** Equal content means equal canonical JSON; where it was read from does not count. */
  private fingerprint(resource: Resource): string {
    let known = this.fingerprints.get(resource);
    if (known === undefined) {
      const { origin: _origin, ...content } = resource;
      known = canonicalJson(content);
      this.fingerprints.set(resource, known);
    }
    return known;
  }

  /** Emits in dependency order; a throwing listener does not keep the others from hearing. */
  private emit(changes: ResourceChange[]): ResourceChange[] {
    changes.sort(compareChanges);
    if (changes.length === 0) return changes;
    const failures: unknown[] = [];
    for (const change of changes) {
      for (const listener of this.emitter.listeners("change")) {
        try {
          (listener as (c: ResourceChange) => void)(change);
        } catch (error) {
          failures.push(error);
        }
      }
    }
    for (const listener of this.emitter.listeners("changes")) {
      try {
        (listener as (c: readonly ResourceChange[]) => void)(changes);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw new AggregateError(failures, "a resource store listener failed");
    return changes;
  }
}

function rank(kind: string): number {
  return APPLY_ORDER[kind] ?? LAST;
}

function compareChanges(a: ResourceChange, b: ResourceChange): number {
  const deletedA = a.type === "deleted";
  const deletedB = b.type === "deleted";
  if (deletedA !== deletedB) return deletedA ? -1 : 1;
  const byRank = rank(a.resource.kind) - rank(b.resource.kind);
  if (byRank !== 0) return deletedA ? -byRank : byRank;
  const idA = `${a.resource.kind}/${a.resource.metadata.namespace}/${a.resource.metadata.name}`;
  const idB = `${b.resource.kind}/${b.resource.metadata.namespace}/${b.resource.metadata.name}`;
  return idA < idB ? -1 : idA > idB ? 1 : 0;
}

/** JSON with object keys sorted at every level; undefined fields are left out as JSON does. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v) || v instanceof Map) return v;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(v).sort()) sorted[key] = (v as Record<string, unknown>)[key];
    return sorted;
  });
}
