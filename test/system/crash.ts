import { expect } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { EventailProcess } from "../support/eventail-process.js";
import { startSink } from "../support/sink.js";
import type { SystemBacking } from "./backings.js";
import { DeliveryLedger } from "./delivery-ledger.js";
import { writeSystemManifests } from "./manifests.js";
import { describeStatuses, eventIds, produce } from "./producer.js";
import { type Cleanup, sample, waitUntil } from "./system-support.js";

export const CRASH_EVENTS = 5_000;

/**
 * 5,000 events into one broker while the subscriber refuses the first attempt of every other
 * event, so a good share of them wait in the Dispatcher's backoff; SIGKILL the process once half
 * were delivered; start a new one on the same manifests. Every accepted event must then reach
 * the subscriber (answered 2xx) at least once. The producer keeps sending through the kill,
 * resending refused batches to the new process, so all 5,000 end up accepted.
 */
export async function crashAndRestart(
  backing: SystemBacking,
  connection: Readonly<Record<string, string>>,
  cleanup: Cleanup,
): Promise<void> {
  const ids = eventIds("crash", CRASH_EVENTS);
  const refusedFirst = new Set(ids.filter((_, n) => n % 2 === 1));
  const ledger = new DeliveryLedger((id, attempt) =>
    attempt === 1 && refusedFirst.has(id) ? 500 : 202,
  );
  const sink = await startSink(ledger.responder);
  cleanup.defer(() => sink.close());
  const manifests = writeSystemManifests(backing.kind, { ...connection, ...backing.failover }, [
    {
      name: "crash",
      subscriberUri: sink.url,
      delivery: { retry: 5, backoffPolicy: "linear", backoffDelay: "PT0.5S" },
    },
  ]);
  cleanup.defer(() => manifests.remove());
  cleanup.defer(() =>
    backing.forget(connection, brokerStream(manifests.namespace, manifests.broker)),
  );

  let current = await EventailProcess.start("eventail before the crash", {
    manifests: [manifests.dir],
  });
  const sending = Date.now();
  const producing = produce(ids, () => current.url + manifests.ingressPath, {
    batchSize: 10,
    concurrency: 4,
    untilAccepted: true,
    deadlineMs: 150_000,
  });
  producing.catch(() => undefined);
  await waitUntil(
    () => ledger.delivered >= CRASH_EVENTS / 2,
    90_000,
    "half of the events to be delivered before the crash",
    () => `${ledger.delivered} delivered\n${current.output().slice(-4_000)}`,
  );
  const deliveredBeforeKill = ledger.delivered;
  const killAfterMs = Date.now() - sending;
  const inBackoffAtKill = ledger.awaitingRetry().length;
  await current.kill("SIGKILL");
  const killedAt = Date.now();

  current = await EventailProcess.start("eventail after the crash", {
    manifests: [manifests.dir],
  });
  const report = await producing;
  expect(report.accepted.size, describeStatuses(report.statuses)).toBe(CRASH_EVENTS);
  await waitUntil(
    () => ledger.missing(report.accepted).length === 0,
    90_000,
    "every accepted event to reach the subscriber after the restart",
    () => `missing ${sample(ledger.missing(report.accepted))}\n${current.output().slice(-4_000)}`,
  );
  const recoveredMs = Date.now() - killedAt;

  console.log(
    `[system] ${backing.kind} crash: ${report.accepted.size} accepted (answers ${describeStatuses(report.statuses)}); ` +
      `SIGKILL ${killAfterMs} ms after the first send, with ${deliveredBeforeKill} delivered and ${inBackoffAtKill} refused and awaiting retry; ` +
      `all delivered ${recoveredMs} ms after the kill; ${ledger.duplicates} duplicates over ${ledger.duplicated().length} ids`,
  );
  expect(inBackoffAtKill, "events waiting in backoff when the process died").toBeGreaterThan(0);
  expect(ledger.unexpected(new Set(ids))).toEqual([]);
}
