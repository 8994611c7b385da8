import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import { decodeFromStorage } from "../../../src/events/json-format.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");

describe.skipIf(!url)("redis backing streams and groups in Redis", () => {
  const backings: Backing[] = [];
  const clients: Redis[] = [];

  async function process(): Promise<Backing> {
    const backing = await createBacking(
      { kind: "redis", settings: { url: url! } },
      { logger: silentLogger() },
    );
    backings.push(backing);
    return backing;
  }

  function rawClient(): Redis {
    const client = new Redis(url!);
    clients.push(client);
    return client;
  }

  afterEach(async () => {
    await Promise.all(backings.splice(0).map((b) => b.close()));
    for (const client of clients.splice(0)) client.disconnect();
  });

  it("stores a batch as one entry per event at eventail:<stream>, in order, in the storage encoding", async () => {
    const backing = await process();
    const stream = uniqueStream("layout");
    const events = [
      testEvent("a", { partitionkey: "p" }),
      testEvent("b", { datacontenttype: "application/octet-stream" }, Buffer.from([0, 255, 1])),
      testEvent("c", {}, undefined),
    ];
    await backing.publish(stream, events);
    const entries = await rawClient().xrange(`eventail:${stream}`, "-", "+");
    expect(entries.map(([, fields]) => fields[0])).toEqual(["event", "event", "event"]);
    const stored = entries.map(([, fields]) => decodeFromStorage(fields[1]!));
    expect(stored.map((event) => event.attributes)).toEqual(
      events.map((event) => event.attributes),
    );
    expect(stored.map((event) => event.data?.toString("hex"))).toEqual(
      events.map((event) => event.data?.toString("hex")),
    );
  });

  it("stores every one of many publishes issued in the same tick, each once", async () => {
    const backing = await process();
    const stream = uniqueStream("burst");
    const events = testEvents("burst", 500);
    await Promise.all(events.map((event) => backing.publish(stream, [event])));
    const entries = await rawClient().xrange(`eventail:${stream}`, "-", "+");
    const ids = entries.map(([, fields]) => idOf(decodeFromStorage(fields[1]!)));
    expect(ids.sort()).toEqual(events.map(idOf).sort());
  });

  it("fails only the publish whose stream cannot take it when publishes of one tick share a call", async () => {
    const backing = await process();
    const [good, bad] = [uniqueStream("ok"), uniqueStream("wrongtype")];
    await rawClient().set(`eventail:${bad}`, "not a stream");
    const results = await Promise.allSettled([
      backing.publish(good, testEvents("first", 2)),
      backing.publish(bad, testEvents("lost", 2)),
      backing.publish(good, [testEvent("last")]),
    ]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    const entries = await rawClient().xrange(`eventail:${good}`, "-", "+");
    expect(entries).toHaveLength(3);
  });

  it("keeps publishing after the server lost its scripts (SCRIPT FLUSH)", async () => {
    const backing = await process();
    const stream = uniqueStream("noscript");
    await backing.publish(stream, [testEvent("before")]);
    await rawClient().script("FLUSH");
    await backing.publish(stream, [testEvent("after")]);
    await Promise.all(testEvents("more", 3).map((event) => backing.publish(stream, [event])));
    const entries = await rawClient().xrange(`eventail:${stream}`, "-", "+");
    expect(entries).toHaveLength(5);
  });

  it("lets processes on one Redis share a trigger: one group named after it, each event to one process", async () => {
    const [publisher, first, second] = [await process(), await process(), await process()];
    const stream = uniqueStream("shared");
    const trigger = "trigger.default.my-trigger";
    const a = new Recorder(() => sleep(2));
    const b = new Recorder(() => sleep(2));
    const options = { concurrency: 4, ordered: false };
    await first.subscribe(stream, trigger, a.handler, options);
    await second.subscribe(stream, trigger, b.handler, options);
    const events = testEvents("share", 60);
    await publisher.publish(stream, events);
    await waitFor(
      () => a.completed + b.completed >= 60,
      10_000,
      "every event",
      () => [a.completed, b.completed],
    );
    await sleep(300);
    expect([...a.ids(), ...b.ids()].sort()).toEqual(events.map(idOf).sort());
    const groups = (await rawClient().xinfo("GROUPS", `eventail:${stream}`)) as unknown[][];
    expect(groups.map((fields) => fields[1])).toEqual([trigger]);
  });

  it("rejects an empty stream name, naming the field", async () => {
    const backing = await process();
    await expect(backing.publish("", [testEvent("x")])).rejects.toThrow("stream");
  });
});
