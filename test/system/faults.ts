/**
 * Network faults between an `eventail run` process and its engine, applied during load while
 * refused events wait in the Dispatcher's backoff (issue 14, CONTRACT §14): a full partition,
 * 20% packet loss, and 200 ms of latency each way. After the heal every event answered 202 must
 * reach the subscriber, and the same process must become ready again; while nothing can be
 * stored ingress answers 503 within the durable publish bound, never another status or a hang.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { networkFaultsUnavailable } from "../support/netns.js";
import { startSink } from "../support/sink.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";
import type { SystemBacking } from "./backings.js";
import { DeliveryLedger } from "./delivery-ledger.js";
import { INGRESS_BOUND_MS } from "./engine-down.js";
import type { FaultyEngine } from "./faulty-engines.js";
import { writeSystemManifests } from "./manifests.js";
import { describeStatuses, eventIds, produce } from "./producer.js";
import { SteadyLoad } from "./steady-load.js";
import { Cleanup, sample, waitUntil } from "./system-support.js";

export interface NetworkFault {
  readonly kind: "partition" | "loss" | "latency";
  /** For the test name and the summary line. */
  readonly name: string;
  readonly durationMs: number;
}

export const PARTITION: NetworkFault = {
  kind: "partition",
  name: "full partition (every packet dropped both ways) for 30 s",
  durationMs: 30_000,
};
export const LOSS: NetworkFault = {
  kind: "loss",
  name: "20% packet loss both ways for 15 s",
  durationMs: 15_000,
};
export const LATENCY: NetworkFault = {
  kind: "latency",
  name: "200 ms added each way by a delaying relay for 15 s",
  durationMs: 15_000,
};

const LOSS_PERCENT = 20;
const LATENCY_MS = 200;

/** Every third event is refused on its first attempt, so some always wait in backoff. */
const refusedFirst = (id: string) => Number(id.split("-").pop()) % 3 === 0;

function statusCounts(statuses: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1);
  return counts;
}

/** One backing × fault case; returns nothing, asserts, and prints one summary line. */
export async function faultDuringLoad(
  backing: SystemBacking,
  start: () => Promise<FaultyEngine>,
  fault: NetworkFault,
  settings: Readonly<Record<string, string>>,
  cleanup: Cleanup,
): Promise<void> {
  const engine = await start();
  cleanup.defer(() => engine.stop());
  let proxy: TcpProxy | undefined;
  if (fault.kind === "latency") {
    if (!engine.url) throw new Error(`${backing.kind}: no relay can sit in front of this engine`);
    proxy = await startTcpProxy(engine.url);
    const relay = proxy;
    cleanup.defer(() => relay.cut());
  }
  const ledger = new DeliveryLedger((id, attempt) =>
    attempt === 1 && refusedFirst(id) ? 500 : 202,
  );
  const sink = await startSink(ledger.responder);
  cleanup.defer(() => sink.close());
  const manifests = writeSystemManifests(
    backing.kind,
    { ...engine.connection(proxy?.url), ...backing.failover, ...settings },
    [
      {
        name: "faults",
        subscriberUri: sink.url,
        delivery: { retry: 10, backoffPolicy: "linear", backoffDelay: "PT2S" },
      },
    ],
  );
  cleanup.defer(() => manifests.remove());
  const eventail = await EventailProcess.start("eventail", {
    manifests: [manifests.dir],
    readyTimeoutMs: 60_000,
  });
  const ingress = eventail.url + manifests.ingressPath;
  const load = SteadyLoad.start(ingress, fault.kind, {
    batchSize: 5,
    concurrency: 2,
    pauseMs: 100,
    timeoutMs: 15_000,
  });
  cleanup.defer(() => load.stop());
  await waitUntil(
    () => ledger.delivered >= 20 && ledger.awaitingRetry().length > 0,
    60_000,
    "deliveries, and refused events waiting in backoff, before the fault",
    () => `${ledger.delivered} delivered\n${eventail.output().slice(-4_000)}`,
  );
  const inBackoff = ledger.awaitingRetry().length;

  const appliedAt = Date.now();
  if (proxy) proxy.setDelay(LATENCY_MS);
  else engine.drop(fault.kind === "partition" ? 100 : LOSS_PERCENT);
  let readyzDuring: number | undefined;
  if (fault.kind === "partition") {
    await waitUntil(
      async () => (await eventail.readiness()) === 503,
      fault.durationMs - 5_000,
      "/readyz to answer 503 during the partition",
    );
    readyzDuring = 503;
  }
  await sleep(Math.max(0, appliedAt + fault.durationMs - Date.now()));
  if (proxy) proxy.setDelay(0);
  else engine.heal();
  const healedAt = Date.now();
  await load.stop();

  await eventail.waitReady(90_000);
  const readyMs = Date.now() - healedAt;
  // Ready means the engine answers; a publisher may still be re-establishing its own link.
  const after = await produce(eventIds(`${fault.kind}-after`, 20), () => ingress, {
    batchSize: 5,
    concurrency: 1,
    untilAccepted: true,
    deadlineMs: 60_000,
  });
  const accepted = new Set([...load.accepted, ...after.accepted]);
  await waitUntil(
    () => ledger.missing(accepted).length === 0,
    180_000,
    "every event answered 202 to reach the subscriber after the heal",
    () => `missing ${sample(ledger.missing(accepted))}\n${eventail.output().slice(-4_000)}`,
  );
  const recoveredMs = Date.now() - healedAt;

  const during = load.within(appliedAt, healedAt);
  const duringCounts = statusCounts(during.map((r) => r.status));
  const allCounts = statusCounts(load.requests.map((r) => r.status));
  const slowest = Math.max(...load.requests.map((r) => r.finishedAt - r.startedAt));
  const sent = new Set([...load.sent, ...eventIds(`${fault.kind}-after`, 20)]);
  const storedThoughRefused = [...sent].filter(
    (id) => !accepted.has(id) && ledger.attemptsOf(id) > 0,
  ).length;
  console.log(
    `[faults] ${backing.kind} | ${fault.name} | accepted ${accepted.size} | delivered ${accepted.size - ledger.missing(accepted).length} ` +
      `(+${storedThoughRefused} from batches answered 503) | duplicates ${ledger.duplicates} | ` +
      `in backoff at the fault ${inBackoff} | answers during the fault ${describeStatuses(duringCounts)} ` +
      `(all: ${describeStatuses(allCounts)}, slowest ${slowest} ms) | ready ${readyMs} ms after the heal | ` +
      `all delivered ${recoveredMs} ms after the heal`,
  );

  const otherStatuses = load.requests.filter((r) => r.status !== 202 && r.status !== 503);
  expect(
    otherStatuses.map((r) => r.status),
    "ingress answers other than 202 and 503",
  ).toEqual([]);
  expect(slowest, "slowest ingress answer (ms)").toBeLessThanOrEqual(INGRESS_BOUND_MS);
  expect(ledger.unexpected(sent), "events the subscriber got that were never sent").toEqual([]);
  expect(inBackoff, "refused events waiting in backoff when the fault began").toBeGreaterThan(0);
  if (fault.kind === "partition") {
    expect(readyzDuring).toBe(503);
    expect(duringCounts.get(503) ?? 0, "503s during the partition").toBeGreaterThan(0);
    expect(duringCounts.get(202) ?? 0, "202s for requests sent during the partition").toBe(0);
  } else {
    expect(duringCounts.get(202) ?? 0, `202s during the ${fault.kind}`).toBeGreaterThan(0);
  }
  expect(eventail.alive, "the same process, never restarted").toBe(true);
  expect(await eventail.readiness()).toBe(200);
}

/**
 * One describe block per backing; the faults run one after another. Where namespaces or
 * nf_tables are missing the cases skip with the reason printed, and in CI that is a failure.
 */
export function describeNetworkFaults(
  backing: SystemBacking,
  start: () => Promise<FaultyEngine>,
  faults: readonly NetworkFault[],
  settings: Readonly<Record<string, string>> = {},
): void {
  const reason =
    networkFaultsUnavailable() ??
    (eventailBuilt() ? undefined : "eventail is not built (npm run build)");
  describe(`${backing.kind}: network faults between Eventail and its engine`, () => {
    if (reason) {
      console.warn(`[faults] ${backing.kind} network-fault tests cannot run: ${reason}`);
      if (process.env["CI"] === "true") {
        it("runs in CI", () => {
          throw new Error(`network-fault tests cannot run in CI: ${reason}`);
        });
      } else {
        it.skip(`skipped: ${reason}`, () => undefined);
      }
      return;
    }
    const cleanup = new Cleanup();
    afterEach(async () => {
      await stopEventailProcesses();
      await cleanup.run();
    });
    it.each(faults)(
      "$name, during load with events in backoff: every 202 is delivered after the heal, ingress answers only 202 or 503 within the bound, and the same process becomes ready again",
      (fault) => faultDuringLoad(backing, start, fault, settings, cleanup),
      300_000,
    );
  });
}
