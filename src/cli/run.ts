import { startTracing, stopTracing } from "../observability/tracing.js";
import { formatIssue } from "../resources/issue.js";
import { parseServiceFlags } from "../resources/services.js";
import { readConfiguration } from "../runtime/configuration-reader.js";
import type { EventailOptions, RunningEventail } from "../runtime/eventail.js";
import { InvalidManifestsError } from "../runtime/invalid-manifests.js";
import { type RunTlsAndLimits, tlsAndLimits } from "./run-options.js";

/** client-go's default LeaseDuration, as the Kubernetes controller's Lease. */
const DEFAULT_LEASE_SECONDS = 15;

/** `$EVENTAIL_LEASE_DURATION` (seconds, ≥ 1) in ms, or why it is not one. */
function leaseTerm(value: string | undefined): number | string {
  if (value === undefined || value === "") return DEFAULT_LEASE_SECONDS * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 1) {
    return `EVENTAIL_LEASE_DURATION must be a number of seconds ≥ 1 (got ${JSON.stringify(value)})`;
  }
  return Math.round(seconds * 1000);
}

/** `eventail run`: serves until SIGTERM/SIGINT, reloading on file change or SIGHUP. */
export async function runCommand(
  paths: string[],
  host: string,
  port: number,
  watch = true,
  serviceFlags: readonly string[] = [],
  /** --tls-*, connection limits, --public-url. */
  flags: RunTlsAndLimits &
    Pick<EventailOptions, "publicUrl" | "journeySize" | "deadLetterSize"> = {},
): Promise<number> {
  const served = tlsAndLimits(flags);
  if ("error" in served) {
    process.stderr.write(`eventail run: ${served.error}\n`);
    return 2;
  }
  const leaseTermMs = leaseTerm(process.env["EVENTAIL_LEASE_DURATION"]);
  if (typeof leaseTermMs === "string") {
    process.stderr.write(`eventail run: ${leaseTermMs}\n`);
    return 2;
  }
  const leaseName = process.env["EVENTAIL_LEASE_NAME"];
  // A NATS KV key, a RabbitMQ queue and a Redis key alike.
  if (leaseName && !/^[A-Za-z0-9._-]{1,200}$/.test(leaseName)) {
    process.stderr.write(
      `eventail run: EVENTAIL_LEASE_NAME must be letters, digits, '.', '_' or '-' (got ${JSON.stringify(leaseName)})\n`,
    );
    return 2;
  }
  let running: RunningEventail;
  try {
    const services = parseServiceFlags(serviceFlags);
    // The worker reads the manifests while the server's modules load (start-up, issue 22).
    const initial = readConfiguration(paths, [], services);
    // startEventail awaits it; until then a failure must not count as unhandled.
    initial.catch(() => {});
    const publicUrl = flags.publicUrl === undefined ? {} : { publicUrl: flags.publicUrl };
    const journeys = flags.journeySize === undefined ? {} : { journeySize: flags.journeySize };
    const deadLetters =
      flags.deadLetterSize === undefined ? {} : { deadLetterSize: flags.deadLetterSize };
    await startTracing();
    const { startEventail } = await import("../runtime/eventail.js");
    running = await startEventail({
      initial,
      paths,
      host,
      port,
      watch,
      services,
      ...served,
      ...publicUrl,
      ...journeys,
      ...deadLetters,
      lease: { ...(leaseName ? { name: leaseName } : {}), termMs: leaseTermMs },
    });
  } catch (error) {
    if (error instanceof InvalidManifestsError) {
      for (const issue of error.issues) process.stderr.write(`${formatIssue(issue)}\n`);
      process.stderr.write(`${error.issues.length} problem(s); nothing was started\n`);
      return 2;
    }
    process.stderr.write(`eventail: ${(error as Error).message}\n`);
    return 1;
  }
  process.on("SIGHUP", () => {
    void running.reload();
  });
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      // Spans of the deliveries that drained are exported before the process exits.
      void running.close().then(stopTracing).then(resolve, resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
