import { startTracing, stopTracing } from "../observability/tracing.js";
import { formatIssue } from "../resources/issue.js";
import { parseServiceFlags } from "../resources/services.js";
import { readConfiguration } from "../runtime/configuration-reader.js";
import type { EventailOptions, RunningEventail } from "../runtime/eventail.js";
import { InvalidManifestsError } from "../runtime/invalid-manifests.js";
import { type RunTlsAndLimits, tlsAndLimits } from "./run-options.js";

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
