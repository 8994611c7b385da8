import { describe, it } from "vitest";
import { eventailBuilt } from "../support/eventail-process.js";
import { serviceUrl } from "../support/services.js";
import { mqttOnLeaderOnly, twoProcessesEmitOnce } from "./leader-lease-scenario.js";

const url = serviceUrl("redis");
const mqtt = serviceUrl("mqtt");

describe.skipIf(!url || !eventailBuilt())("eventail run ×2 on redis: leader-only sources", () => {
  it("a self-emitting source runs in one process, and in the other once the first is killed", async () => {
    await twoProcessesEmitOnce("redis", url!);
  }, 60_000);

  it.skipIf(!mqtt)(
    "MQTT sources and MQTT MessageQueueTriggers run in the leader only",
    async () => {
      await mqttOnLeaderOnly("redis", url!, mqtt!);
    },
    60_000,
  );
});
