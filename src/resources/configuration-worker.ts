import { parentPort, workerData } from "node:worker_threads";
import { loadConfiguration } from "./configuration.js";
import type { Resource } from "./types.js";

/** Worker thread entry of readConfiguration (src/runtime/configuration-reader.ts). */
const { paths, extra } = workerData as { paths: string[]; extra: Resource[] };
parentPort!.postMessage(await loadConfiguration(paths, extra));
