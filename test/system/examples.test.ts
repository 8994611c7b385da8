import { randomBytes } from "node:crypto";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { KAFKA, NATS, REDIS, type SystemBacking } from "./backings.js";
import { Cleanup, waitUntil } from "./system-support.js";

/** POSTs one binary-mode CloudEvent and returns the status. */
async function send(
  url: string,
  attributes: Record<string, string>,
  data: unknown,
): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  for (const [name, value] of Object.entries(attributes)) headers[`ce-${name}`] = value;
  const response = await fetch(url, {
    method: "POST",
    headers: { "ce-specversion": "1.0", ...headers },
    body: JSON.stringify(data),
    signal: AbortSignal.timeout(15_000),
  });
  await response.arrayBuffer();
  return response.status;
}

// Each example runs on a private engine (outside CI, only where this machine can start one), so
// its fixed names (default/default, orders, payments) never meet another test's on a shared one.
const EXAMPLES = [REDIS, NATS, KAFKA]
  .filter((backing) => backing.outages[0]!.available())
  .map((backing) => ({ backing, example: `examples/${backing.kind}-broker` }));

describe.skipIf(!eventailBuilt())("the durable broker examples, run as the READMEs say", () => {
  const cleanup = new Cleanup();
  afterEach(async () => {
    await stopEventailProcesses();
    await cleanup.run();
  });

  it.skipIf(EXAMPLES.length === 0).each(EXAMPLES)(
    "$example: the ConfigMap's engine comes from the environment, and both triggers print to the log",
    async ({ backing, example }: { backing: SystemBacking; example: string }) => {
      const engine = await backing.outages[0]!.start();
      cleanup.defer(() => engine.stop());
      const eventail = await EventailProcess.start("example", {
        manifests: [path.resolve(example)],
        env: { [backing.environment.variable]: engine.connection[backing.environment.key]! },
      });
      const ingress = `${eventail.url}/default/default`;
      const run = randomBytes(4).toString("hex");
      const order = `order-${run}`;
      const payment = `payment-${run}`;
      expect(
        await send(ingress, { type: "dev.example.order", source: "cli", id: order }, { order: 1 }),
      ).toBe(202);
      expect(
        await send(
          ingress,
          { type: "dev.example.payment", source: "cli", id: payment, partitionkey: "customer-7" },
          { amount: 12 },
        ),
      ).toBe(202);
      await waitUntil(
        () =>
          eventail.output().includes(`id=${payment}`) && eventail.output().includes(`id=${order}`),
        30_000,
        "both log lines",
        () => eventail.output().slice(-4_000),
      );
      expect(eventail.output()).toContain(
        `[default/log] id=${order} type=dev.example.order source=cli data={"order":1}`,
      );
      expect(eventail.output()).toContain(
        `[default/log] id=${payment} type=dev.example.payment source=cli data={"amount":12}`,
      );
    },
    90_000,
  );
});
