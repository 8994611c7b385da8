import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/nats/index.js";
import { durableName, takeoverJetStreamName } from "../../../src/backing/nats/naming.js";
import { JetStreamProvisioning } from "../../../src/backing/nats/provisioning.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  Gate,
  Recorder,
  testEvent,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("nats");
const UNORDERED = { concurrency: 8, ordered: false } as const;

describe.skipIf(!url)("NATS: a subscribe() that fails", () => {
  afterEach(() => vi.restoreAllMocks());

  // While a retention takeover drains the old stream, subscribe() starts the part on the new
  // stream, then looks for the draining one; should that fail, the caller never gets a
  // subscription to close, so the part already pulling must stop with it.
  it("stops what it had started: no pull request of it stays with the consumer", async () => {
    const backing: Backing = await createBacking(
      { kind: "nats", settings: { url: url! } },
      { logger: silentLogger() },
    );
    const stream = uniqueStream("failing");
    const name = `trigger.default.${uniqueName("failing")}`;
    const never = new Gate();
    try {
      // A consumer with an event unfinished keeps the old stream draining.
      const keeper = new Recorder(() => never.promise);
      await backing.subscribe(
        stream,
        `trigger.default.${uniqueName("keeper")}`,
        keeper.handler,
        UNORDERED,
      );
      await backing.publish(stream, [testEvent("k-0")]);
      await waitFor(() => keeper.inFlight === 1, 10_000, "the keeper's event");
      await backing.retainStream!(stream, 3_600_000);

      const spy = vi
        .spyOn(JetStreamProvisioning.prototype, "currentName")
        .mockRejectedValue(new Error("injected: NATS did not answer"));
      const orphan = new Recorder();
      await expect(backing.subscribe(stream, name, orphan.handler, UNORDERED)).rejects.toThrow(
        "injected",
      );
      spy.mockRestore();

      const nc = await connect({ servers: url! });
      try {
        const jsm = await nc.jetstreamManager();
        const info = () => jsm.consumers.info(takeoverJetStreamName(stream), durableName(name));
        const deadline = Date.now() + 10_000;
        let waiting = (await info()).num_waiting;
        while (waiting > 0 && Date.now() < deadline) {
          await sleep(50);
          waiting = (await info()).num_waiting;
        }
        expect(waiting).toBe(0);
      } finally {
        await nc.close();
      }
    } finally {
      never.release();
      await backing.removeStream!(stream).catch(() => undefined);
      await backing.close();
    }
  });
});
