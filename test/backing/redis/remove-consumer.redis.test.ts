import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Backing, Subscription } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import { streamKey } from "../../../src/backing/redis/keys.js";
import { createEvent } from "../../../src/events/event.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");
const UNORDERED = { concurrency: 4, ordered: false } as const;

function event(id: string) {
  return createEvent(
    { specversion: "1.0", id, source: "/remove", type: "dev.eventail.remove" },
    Buffer.from("{}"),
  );
}

async function until(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Scale-out: process A has the new configuration (the trigger deleted), B still the old one and
 * reads under the same group. A removes the group; B meets NOGROUP and must go on without being
 * handed the stream again, and B removing it in turn leaves no group behind.
 */
describe.skipIf(!url)("redis backing: removing a consumer another process still reads", () => {
  const redis = url ? new Redis(url) : undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => redis?.disconnect());

  async function backing(): Promise<Backing> {
    // No trim between the steps: an empty-of-groups stream would be emptied, hiding a replay.
    const made = await createBacking(
      { kind: "redis", settings: { url: url!, trimIntervalMs: "600000", blockMs: "500" } },
      { logger: silentLogger() },
    );
    cleanups.push(() => made.close());
    return made;
  }

  async function groups(key: string): Promise<string[]> {
    if ((await redis!.exists(key)) === 0) return [];
    const rows = (await redis!.xinfo("GROUPS", key)) as unknown[][];
    return rows.map((fields) => String(fields[fields.indexOf("name") + 1]));
  }

  it.each([
    {
      how: "removed by another process's removeConsumer: re-created at the stream's end",
      remove: (a: Backing, stream: string) => a.removeConsumer(stream, "trigger.ns.drop"),
      replayed: 0,
    },
    {
      how: "lost by the engine (XGROUP DESTROY, no removal mark): re-created at its start",
      remove: (_: Backing, stream: string) =>
        redis!.xgroup("DESTROY", streamKey(stream), "trigger.ns.drop"),
      replayed: 5,
    },
  ])("a group $how", async ({ remove, replayed }) => {
    const stream = `broker.remove.${Math.random().toString(36).slice(2, 10)}`;
    const key = streamKey(stream);
    cleanups.push(() => redis!.del(key));
    const a = await backing();
    const b = await backing();
    const seenByB: string[] = [];
    let seenByA = 0;
    const onA = await a.subscribe(
      stream,
      "trigger.ns.drop",
      async () => {
        seenByA++;
      },
      UNORDERED,
    );
    const onB: Subscription = await b.subscribe(
      stream,
      "trigger.ns.drop",
      async (e) => {
        seenByB.push(String(e.attributes["id"]));
      },
      UNORDERED,
    );
    await b.publish(
      stream,
      [1, 2, 3, 4, 5].map((i) => event(`old-${i}`)),
    );
    await until("the first five handled", () => seenByA + seenByB.length === 5);
    await until("them acknowledged", async () => {
      const [count] = (await redis!.xpending(key, "trigger.ns.drop")) as [number];
      return count === 0;
    });
    const before = seenByB.length;

    await onA.close();
    await remove(a, stream);
    await until("B to re-create the group", async () =>
      (await groups(key)).includes("trigger.ns.drop"),
    );
    await b.publish(stream, [event("new-1"), event("new-2")]);
    await until("B to get the two new events", () => seenByB.includes("new-2"));
    await sleep(300);
    const replay = seenByB.slice(before).filter((id) => id.startsWith("old-"));
    expect(replay).toHaveLength(replayed);

    // B takes the new configuration too: no group is left, and nothing pins the stream.
    await onB.close();
    await b.removeConsumer(stream, "trigger.ns.drop");
    expect(await groups(key)).toEqual([]);
    expect(await redis!.xlen(key)).toBe(0);
  });
});
