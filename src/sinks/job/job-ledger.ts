import type { JobStatus } from "../../events/ingress-target.js";

interface Entry {
  job: string;
  location: string;
  state: JobStatus["state"];
  started: Promise<void>;
}

/**
 * The jobs a JobSink started, by event `source` + `id`: what deduplication and GET at a Location
 * read. Running jobs are always kept; finished ones are forgotten oldest first past `capacity`,
 * so memory stays bounded (an event redelivered after that runs again, as in Knative once the Job
 * was garbage-collected).
 */
export class JobLedger {
  private readonly entries = new Map<string, Entry>();
  private finished = 0;

  constructor(private readonly capacity: number) {}

  /** The job for this event, with the promise of its start, while it is remembered. */
  pending(
    source: string,
    id: string,
  ): { job: string; location: string; started: Promise<void> } | undefined {
    return this.entries.get(key(source, id));
  }

  get(source: string, id: string): JobStatus | undefined {
    const entry = this.entries.get(key(source, id));
    return entry && { job: entry.job, state: entry.state, location: entry.location };
  }

  start(
    source: string,
    id: string,
    job: { job: string; location: string; started: Promise<void> },
  ): void {
    this.entries.set(key(source, id), { ...job, state: "running" });
  }

  /** A job that never started is not remembered: the event may be sent again. */
  forget(source: string, id: string): void {
    const k = key(source, id);
    if (this.entries.get(k)?.state !== "running" && this.entries.has(k)) this.finished--;
    this.entries.delete(k);
  }

  finish(source: string, id: string, state: "succeeded" | "failed"): void {
    const k = key(source, id);
    const entry = this.entries.get(k);
    if (entry?.state !== "running") return;
    // Re-inserted, so the map's order is the order jobs finished in: oldest first to forget.
    this.entries.delete(k);
    this.entries.set(k, { ...entry, state });
    this.finished++;
    for (const [oldKey, old] of this.entries) {
      if (this.finished <= this.capacity) break;
      if (old.state === "running") continue;
      this.entries.delete(oldKey);
      this.finished--;
    }
  }
}

function key(source: string, id: string): string {
  return `${source}\u0000${id}`;
}
