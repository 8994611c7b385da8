import { setTimeout as sleep } from "node:timers/promises";
import { type ChannelModel, connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing, Subscription } from "../../src/backing/backing.js";
import { createBacking } from "../../src/backing/rabbitmq/index.js";
import { archiveQueueName, exchangeName } from "../../src/backing/rabbitmq/naming.js";
import { silentLogger } from "../../src/observability/logger.js";
import {
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueStream,
  waitFor,
} from "../conformance/conformance-support.js";
import { serviceUrl } from "../support/services.js";

const url = serviceUrl("rabbitmq");
const SETTINGS = { url: url ?? "", queueExpiresMs: "60000", redeliveryDelayMs: "200" };
const UNORDERED = { concurrency: 16, ordered: false } as const;

describe.skipIf(!url)("RabbitMQ retention (eventail.io/retention) and archive", () => {
  let backing: Backing;
  let admin: ChannelModel;
  const streams: string[] = [];

  beforeAll(async () => {
    backing = await createBacking(
      { kind: "rabbitmq", settings: SETTINGS },
      { logger: silentLogger() },
    );
    admin = await connect(url!);
  });

  afterAll(async () => {
    for (const stream of streams) await backing.removeStream(stream).catch(() => undefined);
    await backing.close();
    await admin.close();
  });

  /** Whether a queue exists, asked on a channel of its own (a 404 closes the channel). */
  async function queueExists(queue: string): Promise<boolean> {
    const channel = await admin.createChannel();
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

  /** Declares the queue with `maxAge` passively-by-equivalence: resolves only if it matches. */
  async function hasMaxAge(queue: string, maxAge: string): Promise<boolean> {
    const channel = await admin.createChannel();
    channel.on("error", () => undefined);
    try {
      await channel.assertQueue(queue, {
        durable: true,
        arguments: { "x-queue-type": "stream", "x-max-age": maxAge },
      });
      return true;
    } catch {
      return false;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async function read(stream: string, from: number, to: number, on = backing): Promise<string[]> {
    const found: string[] = [];
    for await (const { event, at } of on.archive!.read(stream, from, to)) {
      expect(at).toBeGreaterThanOrEqual(from);
      expect(at).toBeLessThan(to);
      found.push(idOf(event));
    }
    return found;
  }

  it("retention is a stream queue with that max age bound to the exchange; it keeps events every trigger acknowledged", async () => {
    const stream = uniqueStream("rmq-retained");
    streams.push(stream);
    await backing.retainStream!(stream, 90_500);
    // Rounded up to whole seconds; the same value again (every reconcile) is accepted.
    expect(await hasMaxAge(archiveQueueName(stream), "91s")).toBe(true);
    await backing.retainStream!(stream, 90_500);
    const recorder = new Recorder();
    const subscription = await backing.subscribe(
      stream,
      "trigger.default.kept",
      recorder.handler,
      UNORDERED,
    );
    await backing.publish(stream, testEvents("k", 5));
    await waitFor(() => recorder.completed === 5, 10_000, "every event handled");
    await subscription.close(0);
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual(testEvents("k", 5).map(idOf));
  });

  it("reads the archive by acceptance time: [from, to), oldest first, and stops at the stream's end", async () => {
    const stream = uniqueStream("rmq-archive");
    streams.push(stream);
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual([]);
    await backing.retainStream!(stream, 60_000);
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual([]);
    await backing.publish(stream, [testEvent("a")]);
    await sleep(5);
    const from = Date.now();
    await sleep(5);
    await backing.publish(stream, [testEvent("b"), testEvent("c")]);
    await sleep(5);
    const to = Date.now();
    await sleep(5);
    await backing.publish(stream, [testEvent("d")]);
    expect(await read(stream, from, to)).toEqual(["b", "c"]);
    expect(await read(stream, to, Date.now() + 60_000)).toEqual(["d"]);
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual(["a", "b", "c", "d"]);
    expect(await read(stream, Date.now() + 1_000, Date.now() + 60_000)).toEqual([]);
    // Reads leave end markers behind; later reads skip them.
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual(["a", "b", "c", "d"]);
    // A reader that stops early ends its consumer; the next read still sees everything.
    for await (const _ of backing.archive!.read(stream, 0, Date.now() + 60_000)) break;
    expect(await read(stream, from, Date.now() + 60_000)).toEqual(["b", "c", "d"]);
  });

  it("a second process reads what the first one's publishes left in the archive", async () => {
    const stream = uniqueStream("rmq-archive-other");
    streams.push(stream);
    const other = await createBacking(
      { kind: "rabbitmq", settings: SETTINGS },
      { logger: silentLogger() },
    );
    try {
      await other.retainStream!(stream, 60_000);
      await backing.publish(stream, testEvents("one", 2));
      await other.publish(stream, testEvents("two", 2));
      expect(await read(stream, 0, Date.now() + 60_000, other)).toEqual([
        "one-0",
        "one-1",
        "two-0",
        "two-1",
      ]);
    } finally {
      await other.close();
    }
  });

  it("adding and then removing retention on a running broker, with two processes delivering, loses no event", async () => {
    const stream = uniqueStream("rmq-takeover");
    streams.push(stream);
    // A second process on the same engine that never hears of the annotation.
    const other = await createBacking(
      { kind: "rabbitmq", settings: SETTINGS },
      { logger: silentLogger() },
    );
    const subscriptions: Subscription[] = [];
    try {
      const all = new Recorder();
      const typed = new Recorder();
      for (const process of [backing, other]) {
        subscriptions.push(
          await process.subscribe(stream, "trigger.default.all", all.handler, UNORDERED),
        );
      }
      subscriptions.push(
        await other.subscribe(stream, "trigger.default.typed", typed.handler, {
          ...UNORDERED,
          typeHint: "dev.eventail.conformance",
        }),
      );
      const published: string[] = [];
      let phase = "before" as "before" | "retained" | "after";
      const retainedIds: string[] = [];
      let publishFailures = 0;
      let stop = false;
      const producer = (async () => {
        for (let n = 0; !stop; n++) {
          const batch = testEvents(`p${n}`, 5);
          const during = phase;
          try {
            await (n % 2 === 0 ? backing : other).publish(stream, batch);
            const ids = batch.map(idOf);
            published.push(...ids);
            // Published entirely while the archive queue existed.
            if (during === "retained" && phase === "retained") retainedIds.push(...ids);
          } catch {
            publishFailures++;
          }
        }
      })();
      await waitFor(() => published.length >= 200, 10_000, "events before retention");
      await backing.retainStream!(stream, 60_000);
      phase = "retained";
      await waitFor(() => retainedIds.length >= 200, 10_000, "events under retention");
      // Confirmed before the read began, so before its end marker.
      const expected = [...retainedIds];
      const archived = await read(stream, 0, Date.now() + 60_000);
      phase = "after";
      await backing.retainStream!(stream, undefined);
      expect(await queueExists(archiveQueueName(stream))).toBe(false);
      const count = published.length;
      await waitFor(() => published.length >= count + 200, 10_000, "events after retention");
      stop = true;
      await producer;
      expect(publishFailures).toBe(0);
      expect(expected.filter((id) => !archived.includes(id))).toEqual([]);
      const missing = (recorder: Recorder) =>
        published.filter((id) => !recorder.distinctIds().has(id));
      await waitFor(
        () => all.hasAll(published) && typed.hasAll(published),
        30_000,
        "every event on both triggers",
        () => ({ all: missing(all).length, typed: missing(typed).length }),
      );
      console.info(
        `retention on and off: ${published.length} published, ${expected.length} under retention before the read, archived=${archived.length}, deliveries all=${all.received.length} typed=${typed.received.length}`,
      );
    } finally {
      for (const subscription of subscriptions) await subscription.close(0);
      await other.close();
    }
  }, 60_000);

  it("another retention on an existing archive is refused with the reason, and the archive stays as it was", async () => {
    const stream = uniqueStream("rmq-change");
    streams.push(stream);
    await backing.retainStream!(stream, 60_000);
    await backing.publish(stream, testEvents("x", 2));
    await expect(backing.retainStream!(stream, 120_000)).rejects.toThrow(/cannot change/);
    expect(await hasMaxAge(archiveQueueName(stream), "60s")).toBe(true);
    expect(await read(stream, 0, Date.now() + 60_000)).toEqual(["x-0", "x-1"]);
  });

  it("removing the stream deletes its archive queue with the exchange", async () => {
    const stream = uniqueStream("rmq-remove");
    await backing.retainStream!(stream, 60_000);
    await backing.publish(stream, testEvents("r", 1));
    expect(await queueExists(archiveQueueName(stream))).toBe(true);
    await backing.removeStream(stream);
    expect(await queueExists(archiveQueueName(stream))).toBe(false);
    const channel = await admin.createChannel();
    channel.on("error", () => undefined);
    await expect(channel.checkExchange(exchangeName(stream))).rejects.toThrow(/404|NOT_FOUND/);
  });
});
