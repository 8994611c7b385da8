import { afterEach, describe, it } from "vitest";
import { eventailBuilt, stopEventailProcesses } from "../support/eventail-process.js";
import type { SystemBacking } from "./backings.js";
import { crashAndRestart } from "./crash.js";
import { engineAbsentAtStart } from "./engine-absent.js";
import { engineGoesAwayAndReturns } from "./engine-down.js";
import { twoProcessesShareTheWork } from "./scale-out.js";
import { Cleanup } from "./system-support.js";

/**
 * The system-level guarantees of a durable backing (issue 5), proved through real
 * `eventail run` processes: crash recovery, scale-out, and an engine that goes away.
 */
export function describeDurability(backing: SystemBacking): void {
  const shared = backing.sharedConnection();
  const outages = backing.outages.filter((outage) => outage.available());

  describe.skipIf(!eventailBuilt())(
    `${backing.kind} backing through eventail run processes`,
    () => {
      const cleanup = new Cleanup();
      afterEach(async () => {
        await stopEventailProcesses();
        await cleanup.run();
      });

      it.skipIf(!shared)(
        "crash: after SIGKILL mid-stream, a new process delivers every accepted event at least once, retries in backoff included",
        () => crashAndRestart(backing, shared!, cleanup),
        240_000,
      );

      it.skipIf(!shared)(
        "scale-out: two processes on one engine share the deliveries and each trigger gets each event once (at least once across a group rebalance)",
        () => twoProcessesShareTheWork(backing, shared!, cleanup),
        120_000,
      );

      it.skipIf(outages.length === 0).each(outages)(
        "engine down, $name: ingress answers 503 within the bound, /readyz 503, and delivery resumes with nothing lost",
        (outage) => engineGoesAwayAndReturns(backing, outage, cleanup),
        120_000,
      );

      it.skipIf(outages.length === 0)(
        `engine away when the process starts (${outages[0]?.name}): /readyz and ingress answer 503, then it becomes ready and delivers by itself`,
        () => engineAbsentAtStart(backing, outages[0]!, cleanup),
        120_000,
      );
    },
  );
}
