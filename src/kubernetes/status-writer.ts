/**
 * Writes each served resource's Knative status (CONTRACT §11 and §13) through the status
 * subresource. A write carries the resourceVersion it was computed against; on 409 Conflict
 * (someone changed the object meanwhile) it reads the object again and re-applies the status,
 * a few times at most. Nothing is written when the object already carries that status, so the
 * writer's own updates, seen again through the watch, do not cause another write.
 */
import type { KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../observability/logger.js";
import type { ResourceStatus } from "../resources/status.js";
import type { RunningEventail } from "../runtime/eventail.js";
import type { WatchedKind } from "./kinds.js";
import { isStatus, type KubeJson, type KubeRest, objectPath } from "./kube-rest.js";

export interface Served {
  readonly kind: WatchedKind;
  readonly object: KubernetesObject;
}

const MAX_ATTEMPTS = 5;

export class StatusWriter {
  /** Status writes that ended in a conflict and were retried (for tests and logs). */
  conflicts = 0;
  writes = 0;
  /** Keyed by keyOf: per object (uid), so one deleted and created again starts afresh. */
  private readonly since = new Map<string, string>();
  private readonly written = new Map<string, { basedOn: string | undefined; status: string }>();
  private queue: Promise<void> = Promise.resolve();

  /** Objects the writer keeps anything about (for tests). */
  get tracked(): number {
    return new Set([...this.since.keys(), ...this.written.keys()]).size;
  }

  constructor(
    private readonly rest: KubeRest,
    private readonly runtime: RunningEventail,
    private readonly logger: Logger,
  ) {}

  /** Writes one pass at a time: a pass asked for meanwhile runs once the current one ends. */
  write(served: readonly Served[], rejected: ReadonlyMap<string, string>): Promise<void> {
    this.queue = this.queue.then(() => this.writeAll(served, rejected));
    return this.queue;
  }

  private async writeAll(
    served: readonly Served[],
    rejected: ReadonlyMap<string, string>,
  ): Promise<void> {
    // `served` is every object served now: what the maps hold of any other is gone (deleted,
    // or no longer Eventail's), and would stay forever.
    const current = new Set(served.map(keyOf));
    for (const key of this.since.keys()) if (!current.has(key)) this.since.delete(key);
    for (const key of this.written.keys()) if (!current.has(key)) this.written.delete(key);
    for (const entry of served) {
      const desired = this.desired(entry, rejected);
      if (desired === undefined) continue;
      if (sameStatus((entry.object as { status?: unknown }).status, desired)) continue;
      // Written already against this very version: the watch has not brought the result yet.
      const key = keyOf(entry);
      const last = this.written.get(key);
      const version = entry.object.metadata?.resourceVersion;
      if (last && last.basedOn === version && last.status === canonical(desired)) continue;
      try {
        await this.put(entry, desired);
        this.written.set(key, { basedOn: version, status: canonical(desired) });
      } catch (error) {
        this.logger.warn(
          { resource: idOf(entry), reason: (error as Error).message },
          "status write failed",
        );
      }
    }
  }

  private desired(entry: Served, rejected: ReadonlyMap<string, string>): KubeJson | undefined {
    const { kind, object } = entry;
    const namespace = object.metadata?.namespace ?? "";
    const name = object.metadata?.name ?? "";
    const generation = object.metadata?.generation ?? 1;
    const why = rejected.get(`${kind.kind}/${namespace}/${name}`);
    if (why !== undefined) {
      const key = keyOf(entry);
      const at = this.since.get(key) ?? new Date().toISOString();
      this.since.set(key, at);
      return {
        observedGeneration: generation,
        conditions: [
          {
            type: "Ready",
            status: "False",
            reason: "InvalidSpec",
            message: why,
            lastTransitionTime: at,
          },
        ],
      };
    }
    this.since.delete(keyOf(entry));
    const known = this.runtime.statuses.get(kind.kind, namespace, name);
    return known ? this.inCluster(knativeStatus(known.status)) : undefined;
  }

  /**
   * Refs to Eventail's own kinds resolve, inside this process, to its local listener; on the
   * cluster they are reached through the ingress Service, the public base URL.
   */
  private inCluster(status: KubeJson): KubeJson {
    const local = `${this.runtime.url}/`;
    const cluster = `${this.runtime.security.baseUrl.replace(/\/+$/, "")}/`;
    for (const field of ["subscriberUri", "replyUri", "deadLetterSinkUri", "sinkUri"]) {
      const value = status[field];
      if (typeof value === "string" && value.startsWith(local)) {
        status[field] = cluster + value.slice(local.length);
      }
    }
    return status;
  }

  private async put(entry: Served, status: KubeJson): Promise<void> {
    const { kind, object } = entry;
    const path = `${objectPath(kind.apiVersion, kind.plural, object.metadata?.namespace, object.metadata?.name ?? "")}/status`;
    let current: KubeJson = object as KubeJson;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.rest.replace(path, { ...current, status });
        this.writes++;
        return;
      } catch (error) {
        if (!isStatus(error, 409) || attempt >= MAX_ATTEMPTS) throw error;
        this.conflicts++;
        current = await this.rest.get(path);
        if (sameStatus(current["status"], status)) return;
      }
    }
  }
}

function idOf(entry: Served): string {
  return `${entry.kind.kind}/${entry.object.metadata?.namespace}/${entry.object.metadata?.name}`;
}

/** idOf and the uid: a namesake created after a deletion is another object. */
function keyOf(entry: Served): string {
  return `${idOf(entry)}#${entry.object.metadata?.uid ?? ""}`;
}

/** The runtime's status as the API object carries it (undefined fields left out). */
export function knativeStatus(status: ResourceStatus): KubeJson {
  return JSON.parse(JSON.stringify(status)) as KubeJson;
}

function sameStatus(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) => {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  });
}
