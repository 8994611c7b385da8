import { describe, it } from "vitest";
import { eventailBuilt } from "../support/eventail-process.js";
import { serviceUrl } from "../support/services.js";
import { twoProcessesEmitOnce } from "./leader-lease-scenario.js";

const url = serviceUrl("redis");

describe.skipIf(!url || !eventailBuilt())("eventail run ×2 on redis: leader-only sources", () => {
  it("a self-emitting source runs in one process, and in the other once the first is killed", async () => {
    await twoProcessesEmitOnce("redis", url!);
  }, 60_000);
});
