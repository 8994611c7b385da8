import { setTimeout as sleep } from "node:timers/promises";

export interface ProduceOptions {
  /** Events per `application/cloudevents-batch+json` request; a batch is accepted or refused whole. */
  readonly batchSize: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /**
   * Send a refused batch again (to whatever `target` then names) until it is accepted, as a
   * producer that wants its events stored does; false records the refusal and moves on.
   */
  readonly untilAccepted: boolean;
  /** Gives up (and fails) when batches are still refused after this long. */
  readonly deadlineMs?: number;
}

export interface ProduceReport {
  /** Ids of events in batches answered 202. */
  readonly accepted: Set<string>;
  /** Answers by HTTP status; 0 counts requests that got no answer (refused, reset, timed out). */
  readonly statuses: Map<number, number>;
}

export function eventIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, n) => `${prefix}-${n}`);
}

function batchBody(ids: readonly string[]): string {
  return JSON.stringify(
    ids.map((id) => ({
      specversion: "1.0",
      id,
      source: "/eventail/system-test",
      type: "dev.eventail.system",
      datacontenttype: "application/json",
      data: { id },
    })),
  );
}

/** One POST of a batch: its status, or 0 when no answer came. */
export async function postBatch(
  url: string,
  ids: readonly string[],
  timeoutMs = 15_000,
): Promise<number> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: batchBody(ids),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/**
 * Posts `ids` to broker ingress in batches; `target(batch)` names the URL for each request (so
 * tests can alternate between processes, or follow a replacement process). Only 202 counts as
 * accepted.
 */
export async function produce(
  ids: readonly string[],
  target: (batch: number) => string,
  options: ProduceOptions,
): Promise<ProduceReport> {
  const batches: string[][] = [];
  for (let start = 0; start < ids.length; start += options.batchSize) {
    batches.push(ids.slice(start, start + options.batchSize));
  }
  const report: ProduceReport = { accepted: new Set(), statuses: new Map() };
  const deadline = Date.now() + (options.deadlineMs ?? 120_000);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const index = next++;
      const batch = batches[index]!;
      for (;;) {
        const status = await postBatch(target(index), batch);
        report.statuses.set(status, (report.statuses.get(status) ?? 0) + 1);
        if (status === 202) {
          for (const id of batch) report.accepted.add(id);
          break;
        }
        if (!options.untilAccepted) break;
        if (Date.now() > deadline) {
          throw new Error(`batch ${index} still refused (last status ${status}) at the deadline`);
        }
        await sleep(100);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return report;
}

/** `202×480 0×3` — answers by status, for failure messages and summaries. */
export function describeStatuses(statuses: ReadonlyMap<number, number>): string {
  return [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}×${count}`)
    .join(" ");
}
