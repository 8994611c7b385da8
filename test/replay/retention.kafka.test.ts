import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { freshStream, kafkaBacking, testEvent } from "../backing/kafka/kafka-fixtures.js";
import { serviceUrl } from "../support/services.js";

const brokers = serviceUrl("kafka");

/**
 * The mock here refuses CreateTopics and AlterConfigs, so what this can show is that asking for
 * retention neither fails the broker nor stops it taking events; that the topic then carries
 * retention.ms is something only a real Kafka shows (kafka-configs --describe).
 */
describe.skipIf(!brokers)("kafka retention on a cluster that refuses topic configuration", () => {
  let backing: Backing;

  beforeAll(async () => {
    backing = await kafkaBacking(brokers!);
  });
  afterAll(async () => {
    await backing.close();
  });

  it("retention is asked for at creation and again on an existing topic without failing", async () => {
    const stream = freshStream();
    await backing.retainStream!(stream, 60_000);
    await backing.publish(stream, [testEvent(1)]);
    await backing.retainStream!(stream, 120_000);
    await backing.publish(stream, [testEvent(2)]);
    await expect(backing.retainStream!(stream, undefined)).resolves.toBeUndefined();
  });

  it("reads the archive by record time: [from, to), up to the end the topic had when the read began", async () => {
    const stream = freshStream();
    await backing.retainStream!(stream, 60_000);
    const read = async (from: number, to: number) => {
      const found: string[] = [];
      for await (const { event, at } of backing.archive!.read(stream, from, to)) {
        expect(at).toBeGreaterThanOrEqual(from);
        expect(at).toBeLessThan(to);
        found.push(String(event.attributes["id"]));
      }
      return found.sort();
    };
    expect(await read(0, Date.now() + 60_000)).toEqual([]);
    await backing.publish(stream, [testEvent(1)]);
    await sleep(20);
    const from = Date.now();
    await sleep(20);
    await backing.publish(stream, [testEvent(2), testEvent(3)]);
    await sleep(20);
    const to = Date.now();
    await sleep(20);
    await backing.publish(stream, [testEvent(4)]);
    expect(await read(from, to)).toEqual(["e-2", "e-3"]);
    expect(await read(to, Date.now() + 60_000)).toEqual(["e-4"]);
    expect(await read(0, Date.now() + 60_000)).toEqual(["e-1", "e-2", "e-3", "e-4"]);
    expect(await read(Date.now() + 1_000, Date.now() + 60_000)).toEqual([]);
    await backing.removeStream(stream).catch(() => undefined);
  }, 60_000);
});
