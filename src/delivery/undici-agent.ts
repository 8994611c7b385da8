/**
 * undici's package entry also loads fetch, WebSocket, its caches and mock agents: megabytes of
 * resident memory in a process that only ever dispatches through an Agent. Its files are
 * CommonJS without an exports map, so the Agent's own module can be loaded alone; undici is
 * pinned to one version and test/delivery/undici-agent.test.ts checks that this is still the
 * class the package exports.
 */
import { createRequire } from "node:module";
import type { Agent as UndiciAgent } from "undici";

const require = createRequire(import.meta.url);

export const Agent = require("undici/lib/dispatcher/agent.js") as typeof UndiciAgent;
export type Agent = UndiciAgent;
