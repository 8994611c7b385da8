import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { deepFreeze } from "../resources/freeze.js";
import type { ServiceFlags } from "../resources/services.js";
import type { Resource } from "../resources/types.js";
import type { Configuration } from "./configuration.js";

const WORKER = new URL("./configuration-worker.js", import.meta.url);

/**
 * Loads and validates the configuration in a worker thread that exits when done. The YAML
 * parser, the JSON-schema compiler with every CRD's schema, and the garbage of parsing thousands
 * of documents then live and die in the worker's heap, so the serving process never carries
 * them. Run from TypeScript sources (tests), where no compiled worker file exists, it loads
 * in-process instead.
 */
export async function readConfiguration(
  paths: readonly string[],
  extra: readonly Resource[],
  services?: ServiceFlags,
): Promise<Configuration> {
  if (!existsSync(fileURLToPath(WORKER))) {
    const { loadConfiguration } = await import("./configuration.js");
    return loadConfiguration(paths, extra, services);
  }
  const result = await new Promise<Configuration>((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: { paths, extra, services } });
    let answered = false;
    worker.once("message", (message: Configuration) => {
      answered = true;
      resolve(message);
    });
    worker.once("error", reject);
    worker.once("exit", (code) => {
      if (!answered) reject(new Error(`reading the manifests failed (worker exit code ${code})`));
    });
  });
  // Structured cloning keeps the data, not Object.freeze: resources are immutable everywhere.
  for (const resource of result.resources) deepFreeze(resource);
  return result;
}
