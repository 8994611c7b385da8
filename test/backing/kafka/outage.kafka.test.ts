import { setTimeout as sleep } from "node:timers/promises";
import { Kafka, logLevel } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import { type Backing, BackingUnavailableError } from "../../../src/backing/backing.js";
import { groupId, topicName } from "../../../src/backing/kafka/naming.js";
import { type KafkaEngine, startKafkaEngine } from "../../support/kafka-engine.js";
import { freePort, serviceUrl } from "../../support/services.js";
import { eventually, freshStream, kafkaBacking, testEvent } from "./kafka-fixtures.js";

// Each case runs its own mock cluster (the shared one must stay up); the shared one only tells
// whether kcat is here at all.
const available = serviceUrl("kafka") !== undefined;

/** How long publish() may take to give up, per the Backing contract (ingress answers 503). */
const PUBLISH_BOUND_MS = 5_000;

async function timed<T>(
  work: Promise<T>,
): Promise<{ ms: number; result: PromiseSettledResult<T> }> {
  const started = Date.now();
  const [result] = await Promise.allSettled([work]);
  return { ms: Date.now() - started, result: result! };
}

function rejection(result: PromiseSettledResult<unknown>): unknown {
  return result.status === "rejected" ? result.reason : undefined;
}

describe.skipIf(!available)("kafka backing when the cluster fails", () => {
  let engine: KafkaEngine | undefined;
  const backings: Backing[] = [];

  afterEach(async () => {
    engine?.resume();
    await Promise.all(backings.splice(0).map((backing) => backing.close()));
    await engine?.stop();
    engine = undefined;
  });

  it.each<[string, (engine: KafkaEngine) => Promise<void>]>([
    ["hangs (SIGSTOP)", async (e) => e.hang()],
    ["dies (SIGKILL)", (e) => e.kill()],
  ])(
    "when the cluster %s, publish rejects with BackingUnavailableError in bounded time and ready() is false",
    async (_, fail) => {
      engine = await startKafkaEngine();
      const backing = await kafkaBacking(engine.brokers);
      backings.push(backing);
      const stream = freshStream();
      await backing.publish(stream, [testEvent(0)]);
      expect(await backing.ready()).toBe(true);

      await fail(engine);

      const publish = await timed(backing.publish(stream, [testEvent(1)]));
      expect(rejection(publish.result)).toBeInstanceOf(BackingUnavailableError);
      expect(publish.ms).toBeLessThan(PUBLISH_BOUND_MS);
      const ready = await timed(backing.ready());
      expect(ready.result).toEqual({ status: "fulfilled", value: false });
      expect(ready.ms).toBeLessThan(2_000);
    },
  );

  it("a cluster that is unreachable from the start fails publish, ready and subscribe in bounded time", async () => {
    const nobody = `127.0.0.1:${await freePort()}`;
    const backing = await kafkaBacking(nobody, { "subscribe.timeout.ms": "3000" });
    backings.push(backing);
    const stream = freshStream();

    const publish = await timed(backing.publish(stream, [testEvent(1)]));
    expect(rejection(publish.result)).toBeInstanceOf(BackingUnavailableError);
    expect(publish.ms).toBeLessThan(PUBLISH_BOUND_MS);
    expect(await backing.ready()).toBe(false);
    const subscribe = await timed(
      backing.subscribe(stream, "trigger.outage.t", async () => {}, {
        concurrency: 1,
        ordered: false,
      }),
    );
    expect(rejection(subscribe.result)).toBeInstanceOf(BackingUnavailableError);
    expect(subscribe.ms).toBeLessThan(3_000 + PUBLISH_BOUND_MS);
  });

  it("after a hang longer than the session timeout, publishing and consuming resume with nothing lost", async () => {
    engine = await startKafkaEngine();
    const backing = await kafkaBacking(engine.brokers, { "redelivery.max.delay.ms": "1000" });
    backings.push(backing);
    const stream = freshStream();
    const consumer = "trigger.outage.resume";
    const delivered: string[] = [];
    let hung = false;
    let holding: (() => void) | undefined;
    const subscription = await backing.subscribe(
      stream,
      consumer,
      async (event, meta) => {
        const id = String(event.attributes["id"]);
        if (id === "e-held" && meta.deliveryCount === 1) {
          await new Promise<void>((resolve) => {
            holding = resolve;
          });
        }
        // While the cluster hangs the subscriber fails too: the held event must come again later.
        if (hung) throw new Error("subscriber unavailable during the outage");
        delivered.push(id);
      },
      { concurrency: 4, ordered: false },
    );
    await backing.publish(stream, [testEvent(1)]);
    await eventually("the event before the hang", () => delivered.includes("e-1"));
    await backing.publish(stream, [testEvent(0, { id: "e-held" })]);
    await eventually("the held event in flight", () => holding !== undefined);

    hung = true;
    await engine.hang();
    holding!();
    await backing.publish(stream, [testEvent(2)]).catch(() => undefined);
    await sleep(6_000); // Longer than session.timeout.ms: the group evicts the silent member.
    engine.resume();
    await sleep(500);
    hung = false;

    let published = false;
    const recovered = Date.now() + 20_000;
    while (!published && Date.now() < recovered) {
      published = await backing.publish(stream, [testEvent(3)]).then(
        () => true,
        () => false,
      );
      if (!published) await sleep(250);
    }
    expect(published).toBe(true);
    await eventually(
      "the held event and the one published after recovery",
      () => delivered.includes("e-held") && delivered.includes("e-3"),
      30_000,
    );
    expect(await backing.ready()).toBe(true);
    expect(delivered).toEqual(expect.arrayContaining(["e-1", "e-held", "e-3"]));

    // Whatever the cluster stored (publishes that timed out included) is handled and committed.
    const kafka = new Kafka({ brokers: engine.brokers.split(","), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const topic = topicName("eventail", stream);
      const lagging = async () => {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({
          groupId: groupId("eventail", stream, consumer),
          topics: [topic],
        });
        const position = (partition: number) =>
          committed!.partitions.find((p) => p.partition === partition)?.offset;
        return ends.filter((end) => position(end.partition) !== end.high);
      };
      let behind = await lagging();
      const deadline = Date.now() + 15_000;
      while (behind.length > 0 && Date.now() < deadline) {
        await sleep(250);
        behind = await lagging();
      }
      expect(behind).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    await subscription.close(5_000);
  }, 60_000);
});
