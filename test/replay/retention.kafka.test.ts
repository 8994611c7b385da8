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
});
