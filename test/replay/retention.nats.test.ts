import { setTimeout as sleep } from "node:timers/promises";
import { connect, nanos, RetentionPolicy } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
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

  async function info(stream: string) {
    const nc = await connect({ servers: url! });
    try {
      return await (await nc.jetstreamManager()).streams.info(jetStreamName(stream));
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

  it("adding retention to a running interest stream is refused with the reason, and the stream stays", async () => {
    const stream = uniqueStream("nats-late");
    streams.push(stream);
    await backing.publish(stream, testEvents("x", 1));
    await expect(backing.retainStream!(stream, 60_000)).rejects.toThrow(/recreate the broker/);
    expect((await info(stream)).config.retention).toBe(RetentionPolicy.Interest);
    // Asked again, it says so again (a reconcile keeps the reason in the broker's status).
    await expect(backing.retainStream!(stream, 60_000)).rejects.toThrow(/cannot change it/);
  });
});
