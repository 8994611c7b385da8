/** Worker thread entry of readConfiguration (src/runtime/configuration-reader.ts). */
import { parentPort, workerData } from "node:worker_threads";
import type { Resource } from "../resources/types.js";
import { loadConfiguration } from "./configuration.js";

const { paths, extra } = workerData as { paths: string[]; extra: Resource[] };
parentPort!.postMessage(await loadConfiguration(paths, extra));
