import { randomUUID } from "node:crypto";
import { Kafka, logLevel, Partitioners, type Producer } from "kafkajs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { KafkaSource, type KafkaSourceSpec } from "../../../src/sources/kafka/kafka-source.js";
import { serviceUrl } from "../../support/services.js";
import { eventually, type RecordingSink } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

const brokers = serviceUrl("kafka");
// librdkafka's mock cluster: short group timeouts so joins and restarts stay quick.
const TUNING = { sessionTimeoutMs: 3000, rebalanceTimeoutMs: 10_000, heartbeatIntervalMs: 500 };

/**
 * How long a first delivery may take. Under load librdkafka's mock cluster has been seen to hold a
 * fresh group's JoinGroup unanswered until kafkajs's 30 s request timeout; kafkajs then restarts
 * the consumer, which joins at once.
 */
const FIRST_DELIVERY_MS = 60_000;

describe.skipIf(!brokers)("KafkaSource against a Kafka cluster", { timeout: 150_000 }, () => {
  let producer: Producer;
  let harness: SourceHarness;
  let sink: RecordingSink;
  let topic: string;
  const running: Array<{ source: KafkaSource; abort: AbortController }> = [];

  beforeAll(async () => {
    const kafka = new Kafka({ brokers: brokers!.split(","), logLevel: logLevel.NOTHING });
    producer = kafka.producer({
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
  });
  beforeEach(async () => {
    harness = new SourceHarness();
    sink = await harness.recordingSink();
    topic = `orders-${randomUUID().slice(0, 8)}`;
  });
  afterEach(async () => {
    for (const { source, abort } of running.splice(0)) {
      abort.abort();
      await source.stop();
    }
    await harness.close();
  });

  /** Starts a source the way the reconciler does: the sink's deliveries end when it stops. */
  async function start(spec: Partial<KafkaSourceSpec> = {}, group = `g-${topic}`) {
    const source = new KafkaSource(
      "team",
      "orders",
      {
        bootstrapServers: [brokers!],
        topics: [topic],
        consumerGroup: group,
        initialOffset: "earliest",
        ...spec,
      },
      "string",
      silentLogger(),
      TUNING,
    );
    const abort = new AbortController();
    await source.start(harness.sinkTo(sink.url, { retry: 0 }, abort.signal));
    const handle = { source, abort };
    running.push(handle);
    return {
      stop: async () => {
        running.splice(running.indexOf(handle), 1);
        abort.abort();
        await source.stop();
      },
    };
  }

  it("wraps plain records with Knative's attributes, key and kafkaheader extensions", async () => {
    const [sent] = await producer.send({
      topic,
      messages: [{ key: "customer-7", value: '{"total":12}', headers: { "X-Trace-Id": "t-1" } }],
    });
    await start();
    await sink.waitFor(1, FIRST_DELIVERY_MS);
    const { partition, baseOffset } = sent!;
    expect(sink.events[0]!.attributes).toMatchObject({
      type: "dev.knative.kafka.event",
      source: `/apis/v1/namespaces/team/kafkasources/orders#${topic}`,
      id: `partition:${partition}/offset:${baseOffset}`,
      subject: `partition:${partition}#${baseOffset}`,
      key: "customer-7",
      kafkaheaderxtraceid: "t-1",
    });
    expect(sink.events[0]!.data?.toString()).toBe('{"total":12}');
  });

  it("passes records that are CloudEvents, binary and structured, through unchanged", async () => {
    await producer.send({
      topic,
      messages: [
        {
          partition: 0,
          value: "binary-data",
          headers: {
            ce_specversion: "1.0",
            ce_id: "bin-1",
            ce_source: "/producer",
            ce_type: "com.example.binary",
            "content-type": "text/plain",
          },
        },
        {
          partition: 0,
          value: JSON.stringify({
            specversion: "1.0",
            id: "str-1",
            source: "/producer",
            type: "com.example.structured",
            data: { ok: true },
          }),
          headers: { "content-type": "application/cloudevents+json" },
        },
      ],
    });
    await start();
    await sink.waitFor(2, FIRST_DELIVERY_MS);
    const byId = new Map(sink.events.map((e) => [e.attributes["id"], e]));
    expect(byId.get("bin-1")?.attributes).toEqual({
      specversion: "1.0",
      id: "bin-1",
      source: "/producer",
      type: "com.example.binary",
      datacontenttype: "text/plain",
    });
    expect(byId.get("bin-1")?.data?.toString()).toBe("binary-data");
    expect(byId.get("str-1")?.attributes).toMatchObject({
      source: "/producer",
      type: "com.example.structured",
    });
    expect(JSON.parse(byId.get("str-1")!.data!.toString())).toEqual({ ok: true });
  });

  it("resumes from the committed offsets after a restart: nothing lost, new records once", async () => {
    await producer.send({
      topic,
      messages: ["a", "b", "c"].map((value) => ({ partition: 0, value })),
    });
    const first = await start();
    await sink.waitFor(3, FIRST_DELIVERY_MS);
    await first.stop();
    await producer.send({ topic, messages: ["d", "e"].map((value) => ({ partition: 0, value })) });
    await start();
    await sink.waitFor(5, FIRST_DELIVERY_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const seen = sink.events.map((e) => e.data?.toString());
    // At-least-once: a commit that failed during the first member's group join may hand a–c out
    // again, but the restarted member resumes at the committed offset, so d and e come once each.
    expect([...new Set(seen)]).toEqual(["a", "b", "c", "d", "e"]);
    expect(seen.filter((v) => v === "d" || v === "e")).toEqual(["d", "e"]);
  });

  it("commits no record whose delivery a stop cut short: it is delivered again after restart", async () => {
    await producer.send({ topic, messages: ["x", "y"].map((value) => ({ partition: 0, value })) });
    // The sink takes "x" but never answers while the first source runs.
    sink.respondWith((request) =>
      request.body.toString() === "x" && !released ? { hang: true } : { status: 202 },
    );
    let released = false;
    const first = await start();
    await sink.waitFor(1, FIRST_DELIVERY_MS);
    await first.stop();
    released = true;
    await start();
    await eventually(
      () => sink.events.filter((e) => e.data?.toString() === "y").length === 1,
      FIRST_DELIVERY_MS,
      "y delivered",
    );
    expect(sink.events.map((e) => e.data?.toString())).toEqual(["x", "x", "y"]);
  });

  it.each<[string, "ordered" | "unordered", number]>([
    ["ordered delivers one record of a partition at a time, in offset order", "ordered", 1],
    ["unordered delivers records of one partition concurrently", "unordered", 5],
  ])("%s", async (_name, ordering, expectedMostAtOnce) => {
    let inFlight = 0;
    let most = 0;
    sink.respondWith(() => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => inFlight--, 150);
      return { status: 202, delayMs: 150 };
    });
    const values = ["1", "2", "3", "4", "5"];
    await producer.send({ topic, messages: values.map((value) => ({ partition: 0, value })) });
    await start({ ordering });
    await sink.waitFor(5, FIRST_DELIVERY_MS);
    expect(most).toBe(expectedMostAtOnce);
    if (ordering === "ordered") expect(sink.events.map((e) => e.data?.toString())).toEqual(values);
  });
});
