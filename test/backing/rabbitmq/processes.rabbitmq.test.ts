import { type ChannelModel, connect } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking, queueName } from "../../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  idOf,
  Recorder,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { HoldingProcess } from "../kafka/child-process.js";

const url = serviceUrl("rabbitmq");
const SETTINGS = { url: url ?? "", queueExpiresMs: "60000", redeliveryDelayMs: "200" };
const UNORDERED = { concurrency: 64, ordered: false } as const;
const WAIT_MS = 20_000;

/** A queue's existence, asked on a channel of its own (a 404 closes the channel). */
async function queueExists(model: ChannelModel, queue: string): Promise<boolean> {
  const channel = await model.createChannel();
  channel.on("error", () => undefined);
  try {
    await channel.checkQueue(queue);
    return true;
  } catch {
    return false;
  } finally {
    await channel.close().catch(() => undefined);
  }
}

describe.skipIf(!url)("RabbitMQ backing across processes", () => {
  const children: HoldingProcess[] = [];
  let backing: Backing;
  let admin: ChannelModel;

  beforeAll(async () => {
    backing = await createBacking(
      { kind: "rabbitmq", settings: SETTINGS },
      { logger: silentLogger() },
    );
    admin = await connect(url!);
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.kill()));
  });
  afterAll(async () => {
    await backing.close();
    await admin.close();
  });

  it("events held by a process killed with SIGKILL go to the next process of that consumer, marked redelivered", async () => {
    const stream = uniqueStream("kill");
    const consumer = uniqueName("kill");
    const child = await HoldingProcess.start(SETTINGS, stream, consumer, "rabbitmq");
    children.push(child);
    const events = testEvents("held", 5);
    await backing.publish(stream, events);
    await waitFor(() => child.held.length === 5, WAIT_MS, "the child holding every event");
    await child.kill();

    const survivor = new Recorder();
    const subscription = await backing.subscribe(stream, consumer, survivor.handler, UNORDERED);
    const ids = events.map(idOf);
    await waitFor(
      () => survivor.hasAll(ids),
      WAIT_MS,
      "every held event",
      () => survivor.ids(),
    );
    expect(survivor.ids().sort()).toEqual([...ids].sort());
    expect(survivor.received.every((r) => r.deliveryCount >= 2)).toBe(true);
    await subscription.close();
  }, 60_000);

  it("scale-out: two processes of one consumer share the events; the survivor takes the dead one's share", async () => {
    const stream = uniqueStream("share");
    const consumer = uniqueName("share");
    const child = await HoldingProcess.start(SETTINGS, stream, consumer, "rabbitmq");
    children.push(child);
    const local = new Recorder();
    const subscription = await backing.subscribe(stream, consumer, local.handler, UNORDERED);
    const events = testEvents("work", 40);
    await backing.publish(stream, events);
    const ids = events.map(idOf);
    await waitFor(
      () => child.held.length + local.distinctIds().size === ids.length,
      WAIT_MS,
      "every event at one of the two processes",
      () => ({ child: child.held.length, local: local.received.length }),
    );
    // Each event went to exactly one of them, and both got some.
    expect(new Set([...child.held, ...local.ids()]).size).toBe(ids.length);
    expect(child.held.length).toBeGreaterThan(0);
    expect(local.received.length).toBeGreaterThan(0);

    await child.kill();
    await waitFor(
      () => local.hasAll(ids),
      WAIT_MS,
      "the dead process's share",
      () => local.ids(),
    );
    expect(local.distinctIds().size).toBe(ids.length);
    await subscription.close();
  }, 60_000);

  it("removeConsumer deletes the consumer's queue; a process still subscribed gets a new one", async () => {
    const stream = uniqueStream("remove");
    const consumer = uniqueName("remove");
    const recorder = new Recorder();
    const subscription = await backing.subscribe(stream, consumer, recorder.handler, UNORDERED);
    const queue = queueName(stream, consumer);
    expect(await queueExists(admin, queue)).toBe(true);

    const other = await createBacking(
      { kind: "rabbitmq", settings: SETTINGS },
      { logger: silentLogger() },
    );
    try {
      await other.removeConsumer(stream, consumer);
      await other.removeConsumer(stream, consumer); // already gone: not an error
    } finally {
      await other.close();
    }
    // The subscription still open here declares its queue again, at the stream's end, and then
    // binds it: a queue that exists may not be bound yet, so probe until one probe comes through.
    const deadline = Date.now() + WAIT_MS;
    let probes = 0;
    while (Date.now() < deadline) {
      const probe = testEvents(`probe-${probes++}`, 1);
      await backing.publish(stream, probe);
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (recorder.ids().some((id) => id.includes("probe-"))) break;
    }
    expect(await queueExists(admin, queue)).toBe(true);
    const later = testEvents("after-removal", 2);
    await backing.publish(stream, later);
    await waitFor(() => recorder.hasAll(later.map(idOf)), WAIT_MS, "events after the removal");
    await subscription.close();
    await backing.removeConsumer(stream, consumer);
    expect(await queueExists(admin, queue)).toBe(false);
    await backing.removeStream(stream);
  }, 60_000);
});
