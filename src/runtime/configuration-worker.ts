/** Worker thread entry of readConfiguration (src/runtime/configuration-reader.ts). */
import { parentPort, workerData } from "node:worker_threads";
import type { ServiceFlags } from "../resources/services.js";
import type { Resource } from "../resources/types.js";
import { loadConfiguration } from "./configuration.js";

const { paths, extra, services } = workerData as {
  paths: string[];
  extra: Resource[];
  services?: ServiceFlags;
};
parentPort!.postMessage(await loadConfiguration(paths, extra, services));
