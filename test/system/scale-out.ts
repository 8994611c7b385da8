import { setTimeout as sleep } from "node:timers/promises";
import { expect } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { EventailProcess } from "../support/eventail-process.js";
import { startSink } from "../support/sink.js";
import type { SystemBacking } from "./backings.js";
import { DeliveryLedger } from "./delivery-ledger.js";
import { writeSystemManifests } from "./manifests.js";
import { describeStatuses, eventIds, produce } from "./producer.js";
import { type Cleanup, sample, waitUntil } from "./system-support.js";

export const SCALE_OUT_EVENTS = 2_000;
const TRIGGERS = ["share-a", "share-b"] as const;
/** Below this, one process is not sharing the work but idling beside the other. */
const MIN_SHARE = 0.2;
/** How long to keep listening after the last delivery for a late duplicate. */
const SETTLE_MS = 2_000;

/**
 * Two processes on the same manifests and engine, 2,000 events posted alternately to their
 * ingresses, two triggers. Each trigger's subscriber must get each event exactly once (at least
 * once when a consumer group rebalanced meanwhile), and each process must do a real share of the
 * deliveries (read from its own /metrics).
 */
export async function twoProcessesShareTheWork(
  backing: SystemBacking,
  connection: Readonly<Record<string, string>>,
  cleanup: Cleanup,
): Promise<void> {
  const ids = eventIds("share", SCALE_OUT_EVENTS);
  const ledgers = TRIGGERS.map(() => new DeliveryLedger());
  const sinks = await Promise.all(ledgers.map((ledger) => startSink(ledger.responder)));
  for (const sink of sinks) cleanup.defer(() => sink.close());
  const manifests = writeSystemManifests(
    backing.kind,
    { ...connection, ...backing.failover },
    TRIGGERS.map((name, n) => ({ name, subscriberUri: sinks[n]!.url })),
  );
  cleanup.defer(() => manifests.remove());
  cleanup.defer(() =>
    backing.forget(connection, brokerStream(manifests.namespace, manifests.broker)),
  );
  const processes = await Promise.all(
    ["eventail one", "eventail two"].map((name) =>
      EventailProcess.start(name, { manifests: [manifests.dir] }),
    ),
  );

  const sending = Date.now();
  const report = await produce(ids, (batch) => processes[batch % 2]!.url + manifests.ingressPath, {
    batchSize: 10,
    concurrency: 4,
    untilAccepted: false,
  });
  expect(report.accepted.size, describeStatuses(report.statuses)).toBe(SCALE_OUT_EVENTS);
  await waitUntil(
    () => ledgers.every((ledger) => ledger.delivered === SCALE_OUT_EVENTS),
    60_000,
    "both triggers to deliver every event",
    () =>
      TRIGGERS.map((name, n) => `${name}: missing ${sample(ledgers[n]!.missing(ids))}`).join("; "),
  );
  const deliveredMs = Date.now() - sending;
  await sleep(SETTLE_MS);

  // deliveries[p][t]: attempts process p made for trigger t, from its own /metrics.
  const deliveries = await Promise.all(
    processes.map((process_) =>
      Promise.all(
        TRIGGERS.map((trigger) =>
          process_.counter("eventail_delivery_attempts_total", {
            namespace: manifests.namespace,
            trigger,
          }),
        ),
      ),
    ),
  );
  const duplicates = ledgers.map((ledger) => ledger.duplicates);
  console.log(
    `[system] ${backing.kind} scale-out: ${SCALE_OUT_EVENTS} events × ${TRIGGERS.length} triggers; ` +
      TRIGGERS.map(
        (trigger, t) =>
          `${trigger} delivered by process ${deliveries.map((row) => row[t]).join(" / ")}`,
      ).join(", ") +
      `; duplicates per trigger ${duplicates.join(" / ")}; all delivered ${deliveredMs} ms after the first send`,
  );
  const regrouped = processes.flatMap((process_) => regroupings(process_.output(), sending));
  if (regrouped.length > 0) console.log(`[system] consumer groups regrouped: ${regrouped[0]}`);
  for (const [t, ledger] of ledgers.entries()) {
    const trigger = TRIGGERS[t]!;
    // Exactly once while the group stands still. A rebalance during the run (Kafka's mock cluster
    // rebalances under load) redelivers what was delivered but not yet committed: at least once.
    if (regrouped.length === 0) {
      expect(ledger.duplicated(), `${trigger} delivered these more than once`).toEqual([]);
    }
    expect(ledger.unexpected(new Set(ids))).toEqual([]);
    const byProcess = deliveries.map((row) => row[t]!);
    // Every subscriber answers 202, so attempts are deliveries: one per event, whoever made it,
    // plus one per redelivery the subscriber saw.
    expect(byProcess[0]! + byProcess[1]!, `${trigger} attempts by process`).toBe(
      SCALE_OUT_EVENTS + ledger.duplicates,
    );
    for (const share of byProcess) {
      expect(
        share / SCALE_OUT_EVENTS,
        `${trigger}'s share per process: ${byProcess.join(" / ")}`,
      ).toBeGreaterThanOrEqual(MIN_SHARE);
    }
  }
}

/** A process's log lines, from `since` on, that say its consumer group was rebalanced. */
function regroupings(output: string, since: number): string[] {
  const found: string[] = [];
  for (const line of output.split("\n")) {
    if (!/rebalancing|consumer stopped|Crash/.test(line)) continue;
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string };
      if ((entry.time ?? 0) >= since) found.push(String(entry.msg));
    } catch {
      // A line cut by the output's bound.
    }
  }
  return found;
}
