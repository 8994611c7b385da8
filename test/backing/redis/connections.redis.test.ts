import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Backing, Subscription } from "../../../src/backing/backing.js";
import { redisConnectionName } from "../../../src/backing/redis/connection.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import { streamKey } from "../../../src/backing/redis/keys.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { testEvent, uniqueStream, waitFor } from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("redis");
const TRIGGERS_PER_BROKER = 1_000;
/** A process's own: commands, the stream notifier and 4 dedicated readers, with room to spare. */
const CONNECTION_BOUND = 16;

/** The connections this process holds, by the names it gives them (CLIENT LIST). */
async function ownConnections(redis: Redis): Promise<string[]> {
  const suffixes = [redisConnectionName("commands"), redisConnectionName("notify")].map((name) =>
    name.slice(name.indexOf(":")),
  );
  const list = (await redis.client("LIST")) as string;
  return list
    .split("\n")
    .map((line) => /(?:^| )name=(\S*)/.exec(line)?.[1] ?? "")
    .filter((name) => name.startsWith("eventail-") && suffixes.some((s) => name.endsWith(s)));
}

describe.skipIf(!url)("redis backing: many triggers, few connections", () => {
  const redis = url ? new Redis(url) : undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => redis?.disconnect());

  it(`2 brokers × ${TRIGGERS_PER_BROKER} triggers hold at most ${CONNECTION_BOUND} connections and every trigger still gets its broker's events, also after idling`, async () => {
    const backing: Backing = await createBacking(
      { kind: "redis", settings: { url: url!, blockMs: "1000" } },
      { logger: silentLogger() },
    );
    cleanups.push(() => backing.close());
    const streams = [uniqueStream("conn-a"), uniqueStream("conn-b")];
    for (const stream of streams) cleanups.push(() => redis!.del(streamKey(stream)));

    // seen[broker][trigger] = ids that trigger handled
    const seen = streams.map(() => Array.from({ length: TRIGGERS_PER_BROKER }, () => new Set()));
    const subscriptions: Subscription[] = await Promise.all(
      streams.flatMap((stream, b) =>
        Array.from({ length: TRIGGERS_PER_BROKER }, (_, t) =>
          backing.subscribe(
            stream,
            `trigger.conn.t${t}`,
            async (event) => {
              seen[b]![t]!.add(String(event.attributes["id"]));
            },
            { concurrency: 2, ordered: false },
          ),
        ),
      ),
    );
    cleanups.push(() => Promise.all(subscriptions.map((s) => s.close(1_000))));

    const everyone = (b: number, id: string) => () => seen[b]!.every((ids) => ids.has(id));
    const missing = (b: number, id: string) => () =>
      seen[b]!.filter((ids) => !ids.has(id)).length + " triggers still without it";

    await backing.publish(streams[0]!, [testEvent("a-1")]);
    await backing.publish(streams[1]!, [testEvent("b-1"), testEvent("b-2")]);
    await waitFor(
      everyone(0, "a-1"),
      30_000,
      "a-1 at every trigger of broker a",
      missing(0, "a-1"),
    );
    await waitFor(
      everyone(1, "b-2"),
      30_000,
      "b-2 at every trigger of broker b",
      missing(1, "b-2"),
    );
    expect(seen[1]!.every((ids) => ids.has("b-1"))).toBe(true);
    expect(seen[0]!.every((ids) => ids.size === 1)).toBe(true);

    const held = await ownConnections(redis!);
    expect(held.length).toBeGreaterThanOrEqual(1);
    expect(held.length).toBeLessThanOrEqual(CONNECTION_BOUND);

    // Every trigger sleeps on its quiet stream for longer than one notifier round: an event on
    // one broker then still reaches all of that broker's triggers, and none of the other's.
    await sleep(1_500);
    await backing.publish(streams[0]!, [testEvent("a-2")]);
    await waitFor(
      everyone(0, "a-2"),
      30_000,
      "a-2 at every trigger of broker a",
      missing(0, "a-2"),
    );
    expect(seen[1]!.every((ids) => !ids.has("a-2"))).toBe(true);
    expect((await ownConnections(redis!)).length).toBeLessThanOrEqual(CONNECTION_BOUND);
  }, 120_000);

  it("a stream that gets its first idle trigger while the notifier blocks on another is watched at once, not when that round ends", async () => {
    // A round that only ends by itself after a minute: only CLIENT UNBLOCK lets the new stream in.
    const backing: Backing = await createBacking(
      { kind: "redis", settings: { url: url!, blockMs: "60000", dedicatedReaders: "0" } },
      { logger: silentLogger() },
    );
    cleanups.push(() => backing.close());
    const [quiet, late] = [uniqueStream("conn-quiet"), uniqueStream("conn-late")];
    for (const stream of [quiet, late]) cleanups.push(() => redis!.del(streamKey(stream)));
    const options = { concurrency: 1, ordered: false };
    const onQuiet = await backing.subscribe(quiet, "trigger.conn.quiet", async () => {}, options);
    cleanups.push(() => onQuiet.close(1_000));
    // The quiet stream's trigger polls, finds nothing and the notifier blocks on that stream.
    await sleep(500);
    const seen: string[] = [];
    const onLate = await backing.subscribe(
      late,
      "trigger.conn.late",
      async (event) => {
        seen.push(String(event.attributes["id"]));
      },
      options,
    );
    cleanups.push(() => onLate.close(1_000));
    await sleep(500);
    await backing.publish(late, [testEvent("late-1")]);
    await waitFor(() => seen.includes("late-1"), 15_000, "late-1 at the late stream's trigger");
  }, 60_000);
});
