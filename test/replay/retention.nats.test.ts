import { setTimeout as sleep } from "node:timers/promises";
import { connect, nanos, RetentionPolicy } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing, Subscription } from "../../src/backing/backing.js";
import { createBacking } from "../../src/backing/nats/index.js";
import { jetStreamName } from "../../src/backing/nats/naming.js";
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

const url = serviceUrl("nats");

describe.skipIf(!url)("NATS retention (eventail.io/retention)", () => {
  let backing: Backing;
  const streams: string[] = [];

  beforeAll(async () => {
    backing = await createBacking(
      { kind: "nats", settings: { url: url!, maxAgeMs: "3600000" } },
      { logger: silentLogger() },
    );
  });

  afterAll(async () => {
    for (const stream of streams) await backing.removeStream(stream).catch(() => undefined);
    await backing.close();
  });

  async function info(stream: string, name = jetStreamName(stream)) {
    const nc = await connect({ servers: url! });
    try {
      return await (await nc.jetstreamManager()).streams.info(name);
    } finally {
      await nc.close();
    }
  }

  async function exists(name: string): Promise<boolean> {
    const nc = await connect({ servers: url! });
    try {
      await (await nc.jetstreamManager()).streams.info(name);
      return true;
    } catch {
      return false;
    } finally {
      await nc.close();
    }
  }

  it("a stream created with retention keeps acknowledged events (limits retention, longer max age)", async () => {
    const stream = uniqueStream("nats-retained");
    streams.push(stream);
    await backing.retainStream!(stream, 60_000);
    const recorder = new Recorder();
    await backing.subscribe(stream, "trigger.default.kept", recorder.handler, {
      concurrency: 4,
      ordered: false,
    });
    await backing.publish(stream, testEvents("k", 5));
    await waitFor(() => recorder.completed === 5, 10_000, "every event handled");
    const kept = await info(stream);
    expect(kept.config.retention).toBe(RetentionPolicy.Limits);
    expect(kept.config.max_age).toBe(nanos(3_600_000 + 60_000));
    expect(kept.state.messages).toBe(5);
  });

  it("reads the archive by time: [from, to), and stops at the stream's end", async () => {
    const stream = uniqueStream("nats-archive");
    streams.push(stream);
    await backing.retainStream!(stream, 60_000);
    const read = async (from: number, to: number) => {
      const found: string[] = [];
      for await (const { event } of backing.archive!.read(stream, from, to))
        found.push(idOf(event));
      return found;
    };
    expect(await read(0, Date.now() + 60_000)).toEqual([]);
    await backing.publish(stream, [testEvent("a")]);
    await sleep(5);
    const from = Date.now();
    await sleep(5);
    await backing.publish(stream, [testEvent("b"), testEvent("c")]);
    await sleep(5);
    const to = Date.now();
    await sleep(5);
    await backing.publish(stream, [testEvent("d")]);
    expect(await read(from, to)).toEqual(["b", "c"]);
    expect(await read(to, Date.now() + 60_000)).toEqual(["d"]);
    expect(await read(0, Date.now() + 60_000)).toEqual(["a", "b", "c", "d"]);
    expect(await read(Date.now() + 1_000, Date.now() + 60_000)).toEqual([]);
  });

  it("adding retention to a running broker takes over with a new stream while events keep coming: none lost, the old stream goes once drained", async () => {
    const stream = uniqueStream("nats-takeover");
    streams.push(stream);
    // A second process on the same engine that has not seen the annotation yet.
    const other = await createBacking(
      { kind: "nats", settings: { url: url!, maxAgeMs: "3600000" } },
      { logger: silentLogger() },
    );
    const subscriptions: Subscription[] = [];
    try {
      const slow = async () => {
        await sleep(5);
      };
      const all = new Recorder(slow);
      const typed = new Recorder(slow);
      for (const process of [backing, other]) {
        const subscription = await process.subscribe(stream, "trigger.default.all", all.handler, {
          concurrency: 4,
          ordered: false,
        });
        subscriptions.push(subscription);
      }
      // Served only by the process that does not know: it moves once the old stream is gone,
      // and must then find every event published since the swap waiting for it.
      subscriptions.push(
        await other.subscribe(stream, "trigger.default.typed", typed.handler, {
          concurrency: 4,
          ordered: false,
          typeHint: "dev.eventail.conformance",
        }),
      );
      const published: string[] = [];
      const afterTakeover: string[] = [];
      let takenOver = false;
      let publishFailures = 0;
      let stop = false;
      const producer = (async () => {
        for (let n = 0; !stop; n++) {
          const batch = testEvents(`p${n}`, 5);
          // Only a batch whose publish began after the takeover must be archived: one in flight
          // across it may be stored partly before the new stream's first event.
          const after = takenOver;
          try {
            await (n % 2 === 0 ? backing : other).publish(stream, batch);
            const ids = batch.map(idOf);
            published.push(...ids);
            if (after) afterTakeover.push(...ids);
          } catch {
            publishFailures++;
          }
        }
      })();
      await waitFor(() => published.length >= 300, 10_000, "events before the takeover");
      await backing.retainStream!(stream, 60_000);
      takenOver = true;
      const kept = await info(stream, jetStreamName(stream) + "_R");
      expect(kept.config.retention).toBe(RetentionPolicy.Limits);
      expect(kept.config.max_age).toBe(nanos(3_600_000 + 60_000));
      await waitFor(() => afterTakeover.length >= 300, 10_000, "events after the takeover");
      stop = true;
      await producer;
      expect(publishFailures).toBe(0);
      const missing = (recorder: Recorder) =>
        published.filter((id) => !recorder.distinctIds().has(id));
      await waitFor(
        () => all.hasAll(published) && typed.hasAll(published),
        30_000,
        "every event on both triggers",
        () => ({ all: missing(all).length, typed: missing(typed).length }),
      );
      // The old stream is deleted once drained; the other process moves to the new one.
      const deadline = Date.now() + 30_000;
      while (await exists(jetStreamName(stream))) {
        if (Date.now() > deadline) throw new Error("the old stream was not deleted");
        await sleep(100);
      }
      // Both processes publish and deliver on the new stream.
      await other.publish(stream, testEvents("late", 3));
      await backing.publish(stream, testEvents("later", 3));
      const late = ["late-0", "late-1", "late-2", "later-0", "later-1", "later-2"];
      await waitFor(() => all.hasAll(late) && typed.hasAll(late), 15_000, "late events");
      const archived: string[] = [];
      for await (const { event } of backing.archive!.read(stream, 0, Date.now() + 1)) {
        archived.push(idOf(event));
      }
      for (const id of [...afterTakeover, ...late]) expect(archived).toContain(id);
      // Duplicates are allowed (at least once); this says how many there were.
      console.info(
        `takeover: ${published.length} published, deliveries all=${all.received.length} typed=${typed.received.length}, archived=${archived.length}`,
      );
    } finally {
      // Closed before the stream goes, or a recovering consumer would make it again.
      for (const subscription of subscriptions) await subscription.close(0);
      await other.close();
    }
  }, 90_000);

  it("a trigger that existed before the takeover and is first served on the new stream starts at its first event", async () => {
    const stream = uniqueStream("nats-takeover-late");
    streams.push(stream);
    const taking = await createBacking(
      { kind: "nats", settings: { url: url!, maxAgeMs: "3600000" } },
      { logger: silentLogger() },
    );
    const first = await taking.subscribe(stream, "trigger.default.late", async () => {}, {
      concurrency: 1,
      ordered: false,
    });
    await first.close(0);
    // Left undelivered on the old stream, so it stays draining.
    await taking.publish(stream, testEvents("before", 2));
    await taking.retainStream!(stream, 60_000);
    await taking.close();
    // As if this process made its consumer between the swap and the twin's creation.
    const nc = await connect({ servers: url! });
    try {
      await (await nc.jetstreamManager()).consumers.delete(
        `${jetStreamName(stream)}_R`,
        "trigger_default_late",
      );
    } finally {
      await nc.close();
    }
    await backing.publish(stream, testEvents("after", 3));
    const recorder = new Recorder();
    const late = await backing.subscribe(stream, "trigger.default.late", recorder.handler, {
      concurrency: 1,
      ordered: false,
    });
    try {
      await waitFor(
        () => recorder.hasAll(["after-0", "after-1", "after-2"]),
        10_000,
        "the events published since the swap",
        () => recorder.ids(),
      );
    } finally {
      await late.close(0);
    }
  });

  it("dropping retention again is refused with the reason, and the stream stays", async () => {
    const stream = uniqueStream("nats-drop");
    streams.push(stream);
    await backing.retainStream!(stream, 60_000);
    await backing.publish(stream, testEvents("x", 1));
    await expect(backing.retainStream!(stream, undefined)).rejects.toThrow(/recreate the broker/);
    expect((await info(stream)).config.retention).toBe(RetentionPolicy.Limits);
    await expect(backing.retainStream!(stream, undefined)).rejects.toThrow(/cannot change it/);
  });
});
