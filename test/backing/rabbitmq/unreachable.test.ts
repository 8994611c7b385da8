import { afterEach, describe, expect, it } from "vitest";
import { type Backing, BackingUnavailableError } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { testEvents } from "../../conformance/conformance-support.js";
import { freePort } from "../../support/services.js";

/**
 * Once a connect attempt has failed, publish answers unavailable at once instead of holding the
 * request for the whole publish bound. The bound here is far beyond the test's own timeout, so
 * a publish that waited for a reconnect would fail the test.
 */
describe("RabbitMQ backing while its engine is known unreachable", () => {
  let backing: Backing | undefined;
  afterEach(async () => {
    await backing?.close();
    backing = undefined;
  });

  it("rejects publish as unavailable without waiting out publishTimeoutMs", async () => {
    const port = await freePort();
    backing = await createBacking(
      {
        kind: "rabbitmq",
        settings: { url: `amqp://guest:guest@127.0.0.1:${port}`, publishTimeoutMs: "600000" },
      },
      { logger: silentLogger() },
    );
    // ready() waits for the first connect attempt, which a closed port refuses.
    expect(await backing.ready()).toBe(false);
    await expect(backing.publish("unreachable", testEvents("u", 2))).rejects.toBeInstanceOf(
      BackingUnavailableError,
    );
  }, 15_000);
});
