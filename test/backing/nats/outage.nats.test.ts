import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Backing, BackingUnavailableError } from "../../../src/backing/backing.js";
import type { CloudEvent } from "../../../src/events/event.js";
import {
  idOf,
  Recorder,
  testEvent,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { type NatsEngine, startNatsEngine } from "../../support/nats-engine.js";
import { JetStreamFixture } from "./jetstream-fixture.js";

/** The bound the broker promises: a publish to a dead engine answers 503 within 5 s. */
const PUBLISH_BOUND_MS = 5_000;
const RECOVERY_MS = 30_000;
const OUTAGE_TEST_MS = 90_000;
const UNORDERED = { concurrency: 4, ordered: false } as const;

const engine: NatsEngine | undefined = await startNatsEngine();

async function expectUnavailable(backing: Backing, stream: string): Promise<void> {
  const started = Date.now();
  const outcome = await backing.publish(stream, [testEvent(`lost-${started}`)]).then(
    () => "resolved",
    (error: unknown) => error,
  );
  expect(outcome).toBeInstanceOf(BackingUnavailableError);
  expect(Date.now() - started).toBeLessThan(PUBLISH_BOUND_MS);
}

async function expectNotReady(backing: Backing): Promise<void> {
  const started = Date.now();
  expect(await backing.ready()).toBe(false);
  expect(Date.now() - started).toBeLessThan(2_500);
}

/** Publishes until the engine takes it, as a producer retrying after 503s would. */
async function publishOnceBack(backing: Backing, stream: string, events: CloudEvent[]) {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    try {
      return await backing.publish(stream, events);
    } catch (error) {
      if (!(error instanceof BackingUnavailableError) || Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

describe.skipIf(!engine)("NATS backing when its engine fails", () => {
  let fixture: JetStreamFixture;
  let stream: string;

  beforeEach(async () => {
    await engine!.start().catch(() => undefined);
    fixture = new JetStreamFixture(engine!.url);
    stream = uniqueStream("outage");
  });
  afterEach(async () => {
    engine!.resume();
    await fixture.cleanup();
  });
  afterAll(() => engine!.stop());

  it(
    "hung engine: publish answers unavailable in time, ready is false, and both recover on resume",
    async () => {
      const backing = await fixture.backing();
      const recorder = new Recorder();
      await backing.subscribe(stream, uniqueName("hang"), recorder.handler, UNORDERED);
      await backing.publish(stream, [testEvent("before-hang")]);
      await waitFor(() => recorder.completed === 1, RECOVERY_MS, "the event before the hang");

      await engine!.hang();
      await expectUnavailable(backing, stream);
      await expectNotReady(backing);

      engine!.resume();
      await publishOnceBack(backing, stream, [testEvent("after-hang")]);
      await waitFor(
        () => recorder.ids().includes("after-hang"),
        RECOVERY_MS,
        "the event after the hang",
      );
      expect(await backing.ready()).toBe(true);
    },
    OUTAGE_TEST_MS,
  );

  it(
    "killed engine restarted on its port: unacked events come back and new ones flow",
    async () => {
      // A nak sent just before the kill may be lost with the engine; JetStream then redelivers
      // after the ack wait, which is kept short here (30 s by default).
      const backing = await fixture.backing({ redeliveryDelayMs: "200", ackWaitMs: "5000" });
      let subscriberUp = false;
      const delivered = new Set<string>();
      const recorder = new Recorder(async (event) => {
        if (!subscriberUp) throw new Error("subscriber unavailable");
        delivered.add(idOf(event));
      });
      await backing.subscribe(stream, uniqueName("kill"), recorder.handler, UNORDERED);
      const before = testEvents("unacked", 3);
      await backing.publish(stream, before);
      await waitFor(() => recorder.received.length >= 3, RECOVERY_MS, "first (failing) deliveries");

      await engine!.kill();
      await expectUnavailable(backing, stream);
      await expectNotReady(backing);

      await engine!.start();
      subscriberUp = true;
      const after = testEvents("after-restart", 2);
      await publishOnceBack(backing, stream, after);
      const all = [...before, ...after].map(idOf);
      await waitFor(
        () => all.every((id) => delivered.has(id)),
        RECOVERY_MS,
        "every event, old and new, delivered after the restart",
        () => [...delivered],
      );
      // Each came back after its failed first delivery. Its deliveryCount may start again at 1:
      // a SIGKILLed server can lose consumer state it had not yet synced to disk.
      for (const event of before) {
        const receipts = recorder.received.filter((r) => idOf(r.event) === idOf(event));
        expect(receipts.length, idOf(event)).toBeGreaterThanOrEqual(2);
      }
      expect(await backing.ready()).toBe(true);
    },
    OUTAGE_TEST_MS,
  );

  it(
    "engine down at start-up: the backing is created, refuses work in time, then serves once NATS starts",
    async () => {
      await engine!.kill();
      const started = Date.now();
      const backing = await fixture.backing({ subscribeTimeoutMs: "1500" });
      expect(Date.now() - started).toBeLessThan(1_000);
      await expectUnavailable(backing, stream);
      await expectNotReady(backing);
      const name = uniqueName("late");
      const recorder = new Recorder();
      await expect(
        backing.subscribe(stream, name, recorder.handler, UNORDERED),
      ).rejects.toBeInstanceOf(BackingUnavailableError);

      await engine!.start();
      const deadline = Date.now() + RECOVERY_MS;
      while (!(await backing.ready()) && Date.now() < deadline) await sleep(200);
      await backing.subscribe(stream, name, recorder.handler, UNORDERED);
      await publishOnceBack(backing, stream, [testEvent("first-light")]);
      await waitFor(() => recorder.ids().includes("first-light"), RECOVERY_MS, "the first event");
    },
    OUTAGE_TEST_MS,
  );
});
