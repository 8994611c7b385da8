import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { type Backing, BackingUnavailableError } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/redis/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  Gate,
  idOf,
  Recorder,
  testEvent,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import {
  canStartRedisEngine,
  type RedisEngine,
  startRedisEngine,
} from "../../support/redis-engine.js";

const CONSUMER = "trigger.default.outage";
const UNORDERED = { concurrency: 4, ordered: false };

interface Outage {
  readonly name: string;
  readonly fail: (engine: RedisEngine) => Promise<void> | void;
  readonly repair: (engine: RedisEngine) => Promise<void> | void;
  /**
   * Whether writes sent during the outage are lost with the connection. A hung server still
   * holds them in its socket buffer and runs them on SIGCONT, so a publish answered with 503 may
   * be stored after all (the producer's retry is then a duplicate, which the contract allows).
   */
  readonly writesLost: boolean;
}

const OUTAGES: Outage[] = [
  {
    name: "a hung server (SIGSTOP, then SIGCONT)",
    fail: (engine) => engine.hang(),
    repair: (engine) => engine.resume(),
    writesLost: false,
  },
  {
    name: "a killed server (SIGKILL, then a restart on the same port)",
    fail: (engine) => engine.kill(),
    repair: (engine) => engine.restart(),
    writesLost: true,
  },
];

async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe.skipIf(!canStartRedisEngine() && process.env["CI"] !== "true")(
  "redis backing when its server fails",
  () => {
    let engine: RedisEngine | undefined;
    let backing: Backing | undefined;

    afterEach(async () => {
      Gate.releaseAll();
      engine?.resume();
      await backing?.close();
      await engine?.stop();
      engine = undefined;
      backing = undefined;
    });

    // Each outage with the subscription on a dedicated reader and on the shared notifier.
    const cases = OUTAGES.flatMap((outage) => [
      { ...outage, readers: "4" },
      { ...outage, name: `${outage.name}, shared notifier`, readers: "0" },
    ]);
    it.each(cases)(
      "$name: publish rejects with BackingUnavailableError within 5 s, ready() is false, and publishing and consuming recover with nothing lost",
      async ({ fail, repair, writesLost, readers }) => {
        engine = await startRedisEngine();
        // Default command timeout: the 5 s bound is the contract's, not a test setting.
        backing = await createBacking(
          {
            kind: "redis",
            settings: {
              url: engine.url,
              reclaimIdleMs: "1000",
              reclaimIntervalMs: "200",
              dedicatedReaders: readers,
            },
          },
          { logger: silentLogger() },
        );
        const stream = uniqueStream("outage");
        const held = new Gate();
        const recorder = new Recorder(async (event, meta) => {
          if (idOf(event) === "held" && meta.deliveryCount === 1) await held.promise;
        });
        await backing.subscribe(stream, CONSUMER, recorder.handler, {
          concurrency: 4,
          ordered: false,
        });
        await backing.publish(stream, [testEvent("before"), testEvent("held")]);
        await waitFor(
          () => recorder.completed === 1 && recorder.inFlight === 1,
          10_000,
          "'before' acknowledged and 'held' in its handler",
          () => recorder.ids(),
        );

        await fail(engine);
        const publishing = Date.now();
        const failure = await backing.publish(stream, [testEvent("during")]).catch((e) => e);
        expect(failure).toBeInstanceOf(BackingUnavailableError);
        expect(Date.now() - publishing).toBeLessThanOrEqual(5_000);
        const asking = Date.now();
        expect(await backing.ready()).toBe(false);
        expect(Date.now() - asking).toBeLessThan(1_500);
        held.release();
        await waitFor(() => recorder.completed === 2, 5_000, "the held handler to finish");

        await repair(engine);
        const current = backing;
        await eventually(() => current.ready(), 10_000, "ready() after the repair");
        await backing.publish(stream, [testEvent("after")]);
        const deliveriesOf = (id: string) => recorder.received.filter((r) => idOf(r.event) === id);
        await waitFor(
          () =>
            deliveriesOf("after").length === 1 &&
            deliveriesOf("held").length >= (writesLost ? 2 : 1),
          15_000,
          "the event published after recovery (and the held one again when its ack was lost)",
          () => recorder.received.map((r) => [idOf(r.event), r.deliveryCount]),
        );
        if (writesLost) {
          // The ack of the handler that finished during the outage never landed.
          expect(deliveriesOf("held")[1]!.deliveryCount).toBe(2);
          expect(recorder.ids()).not.toContain("during");
        }

        const probe = new Redis(engine.url);
        try {
          await eventually(
            async () => Number((await probe.xpending(`eventail:${stream}`, CONSUMER))[0]) === 0,
            10_000,
            "nothing left pending",
          );
        } finally {
          probe.disconnect();
        }
      },
      60_000,
    );

    it("a backing created while its server is down starts anyway, fails fast, and works once the server is up", async () => {
      engine = await startRedisEngine();
      await engine.kill();
      const creating = Date.now();
      backing = await createBacking(
        { kind: "redis", settings: { url: engine.url } },
        { logger: silentLogger() },
      );
      expect(Date.now() - creating).toBeLessThan(5_000);
      expect(await backing.ready()).toBe(false);
      const stream = uniqueStream("cold");
      const recorder = new Recorder();
      for (const attempt of [
        () => backing!.publish(stream, [testEvent("too-early")]),
        () => backing!.subscribe(stream, CONSUMER, recorder.handler, UNORDERED),
      ]) {
        const started = Date.now();
        expect(await attempt().catch((e) => e)).toBeInstanceOf(BackingUnavailableError);
        expect(Date.now() - started).toBeLessThan(5_000);
      }

      await engine.restart();
      const current = backing;
      await eventually(() => current.ready(), 10_000, "ready() once the server is up");
      await backing.subscribe(stream, CONSUMER, recorder.handler, UNORDERED);
      await backing.publish(stream, [testEvent("on-time")]);
      await waitFor(
        () => recorder.ids().includes("on-time"),
        10_000,
        "the event",
        () => recorder.ids(),
      );
      expect(recorder.ids()).toEqual(["on-time"]);
    });
  },
);
