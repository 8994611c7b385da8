import { expect } from "vitest";
import { EventailProcess } from "../support/eventail-process.js";
import { startSink } from "../support/sink.js";
import type { EngineOutage, SystemBacking } from "./backings.js";
import { DeliveryLedger } from "./delivery-ledger.js";
import { writeSystemManifests } from "./manifests.js";
import { describeStatuses, eventIds, postBatch, produce } from "./producer.js";
import { type Cleanup, sample, waitUntil } from "./system-support.js";

/** CONTRACT §3: a durable publish gives up within 5 s; the rest is HTTP and scheduling slack. */
export const INGRESS_BOUND_MS = 5_000 + 1_500;
/** The subscriber sits on these deliveries long enough that they finish during the outage. */
const HELD_MS = 3_000;

/**
 * A process on a private engine; events delivered, and some still being delivered, when the
 * engine goes away. Ingress must answer 503 within the request bound and /readyz 503; once the
 * engine is back, /readyz recovers by itself, new events are accepted, and every event accepted
 * before or after the outage reaches the subscriber.
 */
export async function engineGoesAwayAndReturns(
  backing: SystemBacking,
  outage: EngineOutage,
  cleanup: Cleanup,
): Promise<void> {
  const engine = await outage.start();
  cleanup.defer(() => engine.stop());
  const ledger = new DeliveryLedger();
  const held = new Set(eventIds("held", 5));
  const sink = await startSink((request, index) => {
    const answer = ledger.responder(request, index) ?? {};
    const id = request.event?.attributes["id"];
    const first = typeof id === "string" && held.has(id) && ledger.attemptsOf(id) === 1;
    return first ? { ...answer, delayMs: HELD_MS } : answer;
  });
  cleanup.defer(() => sink.close());
  const manifests = writeSystemManifests(
    backing.kind,
    { ...engine.connection, ...backing.failover },
    [
      {
        name: "outage",
        subscriberUri: sink.url,
        delivery: { retry: 3, backoffPolicy: "linear", backoffDelay: "PT0.2S" },
      },
    ],
  );
  cleanup.defer(() => manifests.remove());
  const eventail = await EventailProcess.start("eventail", { manifests: [manifests.dir] });
  const ingress = eventail.url + manifests.ingressPath;
  const options = { batchSize: 5, concurrency: 2, untilAccepted: false };

  const before = await produce(eventIds("before", 20), () => ingress, options);
  const holding = await produce([...held], () => ingress, options);
  expect(before.accepted.size + holding.accepted.size, describeStatuses(before.statuses)).toBe(25);
  const first = new Set([...before.accepted, ...holding.accepted]);
  // The held events are answered HELD_MS later, so the engine goes away while they are in flight.
  await waitUntil(
    () => ledger.missing(first).length === 0,
    30_000,
    "the first events to reach the subscriber",
    () => `missing ${sample(ledger.missing(first))}`,
  );

  await engine.fail();
  const asked = Date.now();
  const during = await postBatch(ingress, ["during-0"], 15_000);
  const answeredMs = Date.now() - asked;
  expect(during, "ingress while the engine is away").toBe(503);
  expect(answeredMs).toBeLessThanOrEqual(INGRESS_BOUND_MS);
  await waitUntil(
    async () => (await eventail.readiness()) === 503,
    10_000,
    "/readyz to answer 503",
  );

  await engine.repair();
  const repaired = Date.now();
  await eventail.waitReady(60_000);
  const readyMs = Date.now() - repaired;
  // Ready means the engine answers; a publisher may still be re-establishing its own link.
  const after = await produce(eventIds("after", 20), () => ingress, {
    ...options,
    untilAccepted: true,
    deadlineMs: 30_000,
  });
  const accepted = new Set([...first, ...after.accepted]);
  await waitUntil(
    () => ledger.missing(accepted).length === 0,
    60_000,
    "every event accepted before and after the outage to be delivered",
    () => `missing ${sample(ledger.missing(accepted))}\n${eventail.output().slice(-4_000)}`,
  );
  console.log(
    `[system] ${backing.kind} engine down (${outage.name}): ingress answered 503 in ${answeredMs} ms; ` +
      `ready ${readyMs} ms after the repair; after it: ${describeStatuses(after.statuses)}; ` +
      `${accepted.size} accepted, all delivered, ${ledger.duplicates} duplicates`,
  );
}
