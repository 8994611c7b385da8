import { describe, it } from "vitest";
import { eventailBuilt } from "../support/eventail-process.js";
import { serviceUrl } from "../support/services.js";
import { twoProcessesEmitOnce } from "./leader-lease-scenario.js";

const url = serviceUrl("nats");

describe.skipIf(!url || !eventailBuilt())("eventail run ×2 on nats: leader-only sources", () => {
  it("a self-emitting source runs in one process, and in the other once the first is killed", async () => {
    await twoProcessesEmitOnce("nats", url!);
  }, 60_000);
});
