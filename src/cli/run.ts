import { formatIssue } from "../resources/issue.js";
import { type EventailOptions, InvalidManifestsError, startEventail } from "../runtime/eventail.js";

/** `eventail run`: serves until SIGTERM/SIGINT, reloading on file change or SIGHUP. */
export async function runCommand(
  paths: string[],
  host: string,
  port: number,
  watch = true,
  /** The other `eventail run` flags (e.g. --public-url). */
  extra: Pick<EventailOptions, "publicUrl"> = {},
): Promise<number> {
  let running: Awaited<ReturnType<typeof startEventail>>;
  try {
    running = await startEventail({ paths, host, port, watch, ...extra });
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
      void running.close().then(resolve, resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
