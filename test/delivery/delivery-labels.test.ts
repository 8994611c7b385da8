/**
 * A failed delivery's log line names who it was for by kind: a Subscription as `subscription`,
 * a Trigger as `trigger`, a source as `sourceName` (`source` is the event's attribute), each
 * through the runtime that really delivers it.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import { Broker } from "../../src/broker/broker.js";
import { TriggerRuntime } from "../../src/broker/trigger.js";
import { ChannelRuntime } from "../../src/channels/channel.js";
import { SubscriptionRuntime } from "../../src/channels/subscription.js";
import { silentLogger } from "../../src/observability/logger.js";
import { dispatcherSink } from "../../src/sources/source.js";
import { delivery, type Harness, harness, sampleEvent, sink, until } from "./harness.js";
import { counterValue } from "./sink.js";

const backings: Backing[] = [];
afterEach(async () => {
  for (const backing of backings.splice(0)) await backing.close();
});

type Deliver = (h: Harness, url: string) => Promise<{ stop(): Promise<void> }>;

const consumerConfig = (url: string) => ({
  namespace: "ns1",
  name: "orders",
  delivery: delivery(),
  ordered: false,
  concurrency: 1,
  subscriberUrl: url,
});

const subscription: Deliver = async (h, url) => {
  const backing = new MemoryBacking();
  backings.push(backing);
  const channel = new ChannelRuntime("ns1", "ch", backing, 1 << 20);
  const runtime = new SubscriptionRuntime(
    { dispatcher: h.dispatcher, logger: silentLogger(), metrics: h.metrics },
    channel,
    consumerConfig(url),
  );
  await runtime.start();
  channel.hold = undefined;
  await channel.ingest([sampleEvent()]);
  return { stop: () => runtime.stop(1_000) };
};

const trigger: Deliver = async (h, url) => {
  const backing = new MemoryBacking();
  backings.push(backing);
  const broker = new Broker("ns1", "default", backing, 1 << 20);
  const runtime = new TriggerRuntime(
    { dispatcher: h.dispatcher, logger: silentLogger(), metrics: h.metrics },
    broker,
    { ...consumerConfig(url), filter: { match: () => true } },
  );
  await runtime.start();
  broker.hold = undefined;
  await broker.ingest([sampleEvent()]);
  return { stop: () => runtime.stop(1_000) };
};

const source: Deliver = async (h, url) => {
  await dispatcherSink(h.dispatcher, url, delivery(), { namespace: "ns1", name: "orders" })(
    sampleEvent(),
  );
  return { stop: async () => undefined };
};

describe("who a failed delivery was for", () => {
  it.each<[string, Deliver, "subscription" | "trigger" | "sourceName"]>([
    ["a Subscription's failure is logged as subscription: <name>", subscription, "subscription"],
    ["a Trigger's failure is logged as trigger: <name>", trigger, "trigger"],
    ["a source's failure is logged as sourceName: <name>", source, "sourceName"],
  ])("%s", async (_name, start, kind) => {
    const subscriber = await sink(() => ({ status: 400, body: "no" }));
    const h = harness();
    const running = await start(h, subscriber.url);
    await until(() => h.logs.some((l) => l["msg"] === "delivery failed: event dropped"));
    await running.stop();

    const line = h.logs.find((l) => l["msg"] === "delivery failed: event dropped")!;
    expect(line).toMatchObject({ namespace: "ns1", [kind]: "orders", status: 400 });
    for (const other of ["subscription", "trigger", "sourceName"].filter((k) => k !== kind)) {
      expect(line).not.toHaveProperty(other);
    }
    // The metrics keep CONTRACT §7's `trigger` label for every kind.
    expect(
      await counterValue(h.metrics.deliveryAttempts, {
        namespace: "ns1",
        trigger: "orders",
        code: "400",
      }),
    ).toBe(1);
  });
});
