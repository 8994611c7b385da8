import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type ChannelModel, connect } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RABBITMQ_EVENT_TYPE } from "../../../src/events/amqp-binding.js";
import { RabbitmqSource } from "../../../src/sources/rabbitmq/rabbitmq-source.js";
import { waitFor } from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { SourceHarness } from "../harness.js";

const url = serviceUrl("rabbitmq");
const WAIT_MS = 15_000;

describe.skipIf(!url)("RabbitmqSource against RabbitMQ", () => {
  let admin: ChannelModel;
  let harness: SourceHarness;
  const queues: string[] = [];

  beforeAll(async () => {
    admin = await connect(url!);
  });
  afterEach(async () => {
    await harness.close();
    const channel = await admin.createChannel();
    for (const queue of queues.splice(0)) await channel.deleteQueue(queue);
    await channel.close();
  });
  afterAll(() => admin.close());

  async function started(queue: string, status: () => number, parallelism = 1) {
    harness = new SourceHarness();
    const sink = await harness.recordingSink(() => ({ status: status() }));
    const source = new RabbitmqSource(
      "shop",
      "orders",
      { rabbitmqResourcesConfig: { queueName: queue, exchangeName: `${queue}.x`, parallelism } },
      url!,
      harness.logger,
    );
    const stop = new AbortController();
    await source.start(harness.sinkTo(sink.url, { retry: 0 }, stop.signal));
    harness.defer(async () => {
      stop.abort();
      await source.stop();
    });
    await waitFor(() => source.ready(), WAIT_MS, "the source connected");
    // Declared by the source: wait until the binding answers publishes.
    queues.push(queue);
    const channel = await admin.createConfirmChannel();
    await channel.checkQueue(queue);
    return { sink, source, channel };
  }

  it("binary cloudEvents:* headers pass through; a plain message becomes dev.knative.rabbitmq.event", async () => {
    const queue = `eventail.test.source.${randomBytes(4).toString("hex")}`;
    const { sink, channel } = await started(queue, () => 202);
    channel.publish(`${queue}.x`, "orders.created", Buffer.from('{"n":1}'), {
      contentType: "application/json",
      headers: {
        "cloudEvents:specversion": "1.0",
        "cloudEvents:id": "ce-1",
        "cloudEvents:source": "/shop",
        "cloudEvents:type": "com.example.order",
        "cloudEvents:shipto": "home",
      },
    });
    channel.publish(`${queue}.x`, "x", Buffer.from("plain bytes"), {
      messageId: "m-2",
      contentType: "text/plain",
      timestamp: 1_700_000_000,
    });
    await channel.waitForConfirms();
    await channel.close();
    await waitFor(() => sink.requests.length >= 2, WAIT_MS, "both messages at the sink");
    const [binary, plain] = sink.requests.map((r) => r.event!);
    expect(binary!.attributes).toMatchObject({
      id: "ce-1",
      source: "/shop",
      type: "com.example.order",
      shipto: "home",
      datacontenttype: "application/json",
    });
    expect(binary!.data?.toString()).toBe('{"n":1}');
    expect(plain!.attributes).toMatchObject({
      id: "m-2",
      type: RABBITMQ_EVENT_TYPE,
      source: `/apis/v1/namespaces/shop/rabbitmqsources/orders#${queue}`,
      subject: "m-2",
      time: "2023-11-14T22:13:20.000Z",
      datacontenttype: "text/plain",
    });
    expect(plain!.data?.toString()).toBe("plain bytes");
  });

  it("acks only after the sink took the message: one in flight at stop goes back to the queue", async () => {
    const queue = `eventail.test.source.${randomBytes(4).toString("hex")}`;
    let hang = true;
    const first = await started(queue, () => 202);
    first.sink.respondWith(() => (hang ? { hang: true } : { status: 202 }));
    first.channel.sendToQueue(queue, Buffer.from("held"), { messageId: "held" });
    await first.channel.waitForConfirms();
    await first.channel.close();
    await waitFor(() => first.sink.requests.length >= 1, WAIT_MS, "the delivery in flight");
    await harness.close(); // stops the source while its sink has not answered

    const check = await admin.createChannel();
    let back = 0;
    const deadline = Date.now() + WAIT_MS;
    while (back === 0 && Date.now() < deadline) {
      back = (await check.checkQueue(queue)).messageCount;
      if (back === 0) await sleep(100);
    }
    expect(back).toBe(1);

    hang = false;
    const second = await started(queue, () => 202);
    await second.channel.close();
    await waitFor(
      () => second.sink.requests.some((r) => r.event?.attributes["id"] === "held"),
      WAIT_MS,
      "the message at the next source",
    );
    await sleep(300);
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
    await check.close();
  });

  it("a message the sink refuses through every retry is rejected, not requeued", async () => {
    const queue = `eventail.test.source.${randomBytes(4).toString("hex")}`;
    const { sink, channel } = await started(queue, () => 503);
    channel.sendToQueue(queue, Buffer.from("refused"), { messageId: "refused" });
    await channel.waitForConfirms();
    await channel.close();
    await waitFor(() => sink.requests.length >= 1, WAIT_MS, "the refused delivery");
    await sleep(500);
    expect(sink.requests).toHaveLength(1);
    const check = await admin.createChannel();
    expect((await check.checkQueue(queue)).messageCount).toBe(0);
    await check.close();
  });
});
