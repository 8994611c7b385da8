/**
 * The status of every resource the runtime serves (CONTRACT §11). The reconciler keeps the facts
 * (what runs, what failed and why); the book turns them into Knative `status` after every
 * reconcile and on every read, so a source that became ready since reads as ready. It remembers
 * when each condition last changed and when each resource was first seen (its age).
 */
import type { Condition, ResourceStatusReader, ResourceWithStatus } from "../resources/status.js";
import type { Resource } from "../resources/types.js";
import { computeStatus, type StatusFacts } from "./resource-status.js";

export interface StatusSource {
  readonly facts: StatusFacts;
  /** Every resource to report: the store's and those Sequences and Parallels stand for. */
  resources(): readonly Resource[];
  /** The channels and subscriptions a Sequence or Parallel stands for. */
  derivedOf(flow: Resource): readonly Resource[];
}

interface Remembered {
  firstSeen: string;
  /** Condition type → [status, since]. */
  transitions: Map<string, [Condition["status"], string]>;
}

const idOf = (r: Resource) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;

export class StatusBook implements ResourceStatusReader {
  private readonly seen = new Map<string, Remembered>();

  constructor(
    private readonly source: StatusSource,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Recomputes every status (after a reconcile), recording transitions and forgetting the gone. */
  observe(): void {
    const ids = new Set(this.list().map((entry) => idOf(entry.resource)));
    for (const id of this.seen.keys()) if (!ids.has(id)) this.seen.delete(id);
  }

  list(): ResourceWithStatus[] {
    return this.source.resources().map((resource) => this.entry(resource));
  }

  get(kind: string, namespace: string, name: string): ResourceWithStatus | undefined {
    const resource = this.source
      .resources()
      .find(
        (r) => r.kind === kind && r.metadata.namespace === namespace && r.metadata.name === name,
      );
    return resource ? this.entry(resource) : undefined;
  }

  private entry(resource: Resource): ResourceWithStatus {
    const derived =
      resource.kind === "Sequence" || resource.kind === "Parallel"
        ? this.source.derivedOf(resource)
        : [];
    const computed = computeStatus(this.source.facts, resource, derived);
    const at = this.now().toISOString();
    const id = idOf(resource);
    let remembered = this.seen.get(id);
    if (!remembered) {
      remembered = { firstSeen: at, transitions: new Map() };
      this.seen.set(id, remembered);
    }
    const conditions = computed.conditions.map((condition) => {
      const last = remembered.transitions.get(condition.type);
      const since = last && last[0] === condition.status ? last[1] : at;
      remembered.transitions.set(condition.type, [condition.status, since]);
      return { ...condition, lastTransitionTime: since };
    });
    return {
      resource,
      status: { ...computed, conditions },
      firstSeen: remembered.firstSeen,
    };
  }
}
