import { expect } from "vitest";
import { EventailProcess } from "../support/eventail-process.js";
import { startSink } from "../support/sink.js";
import type { EngineOutage, SystemBacking } from "./backings.js";
import { DeliveryLedger } from "./delivery-ledger.js";
import { writeSystemManifests } from "./manifests.js";
import { describeStatuses, eventIds, postBatch, produce } from "./producer.js";
import { type Cleanup, sample, waitUntil } from "./system-support.js";

/**
 * The engine is already away when `eventail run` starts. The process must still come up and
 * say so: /readyz 503 and broker ingress 503 (the broker exists; its backing is unavailable).
 * Once the engine answers, it must become ready by itself and deliver through its trigger.
 */
export async function engineAbsentAtStart(
  backing: SystemBacking,
  outage: EngineOutage,
  cleanup: Cleanup,
): Promise<void> {
  const engine = await outage.start();
  cleanup.defer(() => engine.stop());
  const ledger = new DeliveryLedger();
  const sink = await startSink(ledger.responder);
  cleanup.defer(() => sink.close());
  const manifests = writeSystemManifests(
    backing.kind,
    { ...engine.connection, ...backing.failover },
    [{ name: "late", subscriberUri: sink.url }],
  );
  cleanup.defer(() => manifests.remove());

  await engine.fail();
  const eventail = await EventailProcess.start("eventail", {
    manifests: [manifests.dir],
    skipReady: true,
    readyTimeoutMs: 60_000,
  });
  const ingress = eventail.url + manifests.ingressPath;
  expect(await eventail.readiness(), "/readyz while the engine is away").toBe(503);
  expect(await postBatch(ingress, ["absent-0"]), "ingress while the engine is away").toBe(503);

  await engine.repair();
  const repaired = Date.now();
  // The other outages recover within a second or two of the repair; 30 s leaves room for load.
  await eventail.waitReady(30_000);
  const readyMs = Date.now() - repaired;
  const ids = eventIds("late", 10);
  const report = await produce(ids, () => ingress, {
    batchSize: 5,
    concurrency: 1,
    untilAccepted: true,
    deadlineMs: 30_000,
  });
  await waitUntil(
    () => ledger.missing(report.accepted).length === 0,
    20_000,
    "the trigger to deliver once the engine answers",
    () => `missing ${sample(ledger.missing(report.accepted))}\n${eventail.output().slice(-4_000)}`,
  );
  console.log(
    `[system] ${backing.kind} engine absent at start (${outage.name}): ready ${readyMs} ms after the repair; ` +
      `then ${describeStatuses(report.statuses)}, all delivered`,
  );
}
