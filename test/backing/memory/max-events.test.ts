import { describe, expect, it } from "vitest";
import { BackingFullError } from "../../../src/backing/backing.js";
import { MemoryBacking } from "../../../src/backing/memory/memory-backing.js";
import { createEvent } from "../../../src/events/event.js";

const event = (id: string, type = "t") =>
  createEvent({ specversion: "1.0", id, source: "/test", type }, undefined);

/** A consumer that takes events and holds each until released. */
function holdingConsumer() {
  const taken: string[] = [];
  const releases: Array<() => void> = [];
  const handler = (e: ReturnType<typeof event>) => {
    taken.push(String(e.attributes["id"]));
    return new Promise<void>((resolve) => releases.push(resolve));
  };
  return {
    taken,
    handler,
    releaseAll: () => {
      for (const release of releases.splice(0)) release();
    },
  };
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(condition()).toBe(true);
};

describe("memory backing: eventail.io/memory.max-events", () => {
  it("refuses a publish past the cap whole, and accepts again once consumers took events", async () => {
    const backing = new MemoryBacking({ closeGraceMs: 10 });
    backing.limitStream("s", 3);
    const consumer = holdingConsumer();
    await backing.subscribe("s", "c", consumer.handler, { concurrency: 1, ordered: false });
    await backing.publish("s", [event("0")]);
    await until(() => consumer.taken.length === 1); // in flight: no longer held by the stream
    await backing.publish("s", [event("1"), event("2")]);
    // 2 held + a batch of 2 would pass 3: refused whole, nothing of it is kept.
    await expect(backing.publish("s", [event("3"), event("4")])).rejects.toBeInstanceOf(
      BackingFullError,
    );
    await backing.publish("s", [event("3")]);
    const refusal = await backing.publish("s", [event("x")]).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(BackingFullError);
    expect((refusal as BackingFullError).retryAfterSeconds).toBe(1);
    expect((refusal as Error).message).toBe("s holds 3 undelivered events, its limit is 3");
    consumer.releaseAll();
    await until(() => consumer.taken.length === 2);
    await backing.publish("s", [event("4")]);
    await until(() => {
      consumer.releaseAll();
      return consumer.taken.length === 5;
    });
    expect(consumer.taken).toEqual(["0", "1", "2", "3", "4"]);
    await backing.close();
  });

  it("counts what each feed holds: a hinted and an unhinted consumer, and a removed one", async () => {
    const backing = new MemoryBacking({ closeGraceMs: 10 });
    backing.limitStream("s", 4);
    const all = holdingConsumer();
    const typed = holdingConsumer();
    await backing.subscribe("s", "all", all.handler, { concurrency: 1, ordered: false });
    const hinted = await backing.subscribe("s", "typed", typed.handler, {
      concurrency: 1,
      ordered: false,
      typeHint: "a",
    });
    await backing.publish("s", [event("0", "a")]);
    await until(() => all.taken.length === 1 && typed.taken.length === 1);
    // An event of the hinted type waits in both feeds: it counts once per feed.
    await backing.publish("s", [event("1", "a"), event("2", "a")]);
    await expect(backing.publish("s", [event("3", "b")])).rejects.toBeInstanceOf(BackingFullError);
    // The hinted consumer goes for good: what only it had yet to read no longer counts.
    await hinted.close(10);
    await backing.removeConsumer("s", "typed");
    await backing.publish("s", [event("3", "b"), event("4", "b")]);
    await expect(backing.publish("s", [event("5", "b")])).rejects.toBeInstanceOf(BackingFullError);
    await backing.close();
  });

  it("defaults to 100,000 undelivered events", async () => {
    const backing = new MemoryBacking({ closeGraceMs: 10 });
    const consumer = holdingConsumer();
    await backing.subscribe("s", "c", consumer.handler, { concurrency: 1, ordered: false });
    const batch = Array.from({ length: 1_000 }, (_, i) => event(String(i)));
    for (let i = 0; i < 100; i++) await backing.publish("s", batch);
    // One went in flight; 99,999 held, so one more fits and then the stream is full.
    await until(() => consumer.taken.length === 1);
    await backing.publish("s", [event("last")]);
    await expect(backing.publish("s", [event("over")])).rejects.toBeInstanceOf(BackingFullError);
    consumer.releaseAll();
    await backing.close();
  });
});
