import { type ChannelModel, connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsumeHandler } from "../../../src/backing/backing.js";
import { createBacking, queueName } from "../../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../../src/observability/logger.js";
import {
  idOf,
  testEvents,
  uniqueName,
  uniqueStream,
  waitFor,
} from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";

const url = serviceUrl("rabbitmq");
const WAIT_MS = 20_000;
/** AMQP 0-9-1: a method frame is type 1; basic.ack is class 60, method 80. */
const METHOD_FRAME = 1;
const BASIC_CLASS = 60;
const BASIC_ACK = 80;

/** Counts the basic.ack frames in what a client sends (fed chunk by chunk, as they arrive). */
class AckCounter {
  acks = 0;
  /** basic.ack frames with the `multiple` bit set. */
  multipleAcks = 0;
  #pending = Buffer.alloc(0);
  #headerSeen = false;

  readonly feed = (chunk: Buffer): void => {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    if (!this.#headerSeen) {
      if (this.#pending.length < 8) return;
      this.#pending = this.#pending.subarray(8); // "AMQP" 0 0 9 1
      this.#headerSeen = true;
    }
    while (this.#pending.length >= 7) {
      const size = this.#pending.readUInt32BE(3);
      if (this.#pending.length < 7 + size + 1) break;
      const payload = this.#pending.subarray(7, 7 + size);
      if (
        this.#pending[0] === METHOD_FRAME &&
        payload.readUInt16BE(0) === BASIC_CLASS &&
        payload.readUInt16BE(2) === BASIC_ACK
      ) {
        this.acks++;
        if ((payload[12]! & 1) === 1) this.multipleAcks++;
      }
      this.#pending = this.#pending.subarray(7 + size + 1);
    }
  };
}

describe.skipIf(!url)("RabbitMQ consumer acknowledgements", () => {
  // One connection goes through the proxy per test run: the backing's, whose acks are counted.
  const counter = new AckCounter();
  let proxy: TcpProxy;
  let admin: ChannelModel;

  beforeAll(async () => {
    proxy = await startTcpProxy(url!, { onClientChunk: counter.feed });
    admin = await connect(url!);
  });
  afterAll(async () => {
    await admin.close();
    await proxy.cut();
  });

  async function messagesIn(queue: string): Promise<number> {
    const channel = await admin.createChannel();
    try {
      return (await channel.checkQueue(queue)).messageCount;
    } finally {
      await channel.close();
    }
  }

  it("handlers that finish in one loop turn are acknowledged with one frame, and nothing finished goes back to the queue on close", async () => {
    const backing = await createBacking(
      { kind: "rabbitmq", settings: { url: proxy.url, queueExpiresMs: "60000" } },
      { logger: silentLogger() },
    );
    try {
      const stream = uniqueStream("acks");
      const consumer = uniqueName("acks");
      const count = 100;
      const received: string[] = [];
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      // Every handler waits until all events are in, so all of them finish in the same turn.
      const handler: ConsumeHandler = async (event) => {
        received.push(idOf(event));
        if (received.length === count) release();
        await gate;
      };
      const subscription = await backing.subscribe(stream, consumer, handler, {
        concurrency: count,
        ordered: false,
      });
      await backing.publish(stream, testEvents("acks", count));
      await waitFor(
        () => received.length === count,
        WAIT_MS,
        "every event",
        () => received.length,
      );
      const before = counter.acks;
      await waitFor(() => counter.acks > before, WAIT_MS, "the acknowledgement");
      // A graceful close right after: the acks of its last turn are sent before the channel goes.
      await subscription.close();

      expect(new Set(received).size).toBe(count);
      expect(counter.acks - before).toBe(1);
      expect(counter.multipleAcks).toBeGreaterThanOrEqual(1);
      expect(await messagesIn(queueName(stream, consumer))).toBe(0);
    } finally {
      await backing.close();
    }
  }, 60_000);

  it("a close while handlers run sends their acks before the channel goes: nothing is redelivered", async () => {
    const backing = await createBacking(
      { kind: "rabbitmq", settings: { url: url!, queueExpiresMs: "60000" } },
      { logger: silentLogger() },
    );
    try {
      const stream = uniqueStream("acks-close");
      const consumer = uniqueName("acks-close");
      const count = 50;
      const received: string[] = [];
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const handler: ConsumeHandler = async (event) => {
        received.push(idOf(event));
        await gate;
      };
      const first = await backing.subscribe(stream, consumer, handler, {
        concurrency: count,
        ordered: false,
      });
      await backing.publish(stream, testEvents("close", count));
      await waitFor(
        () => received.length === count,
        WAIT_MS,
        "every event",
        () => received.length,
      );
      // The close cancels the consumer and waits for the handlers; they finish while it waits,
      // and the channel closes in the same turn as the last of them.
      const closing = first.close();
      setTimeout(release, 300);
      await closing;
      expect(await messagesIn(queueName(stream, consumer))).toBe(0);

      const again: string[] = [];
      const second = await backing.subscribe(
        stream,
        consumer,
        async (event) => {
          again.push(idOf(event));
        },
        { concurrency: 8, ordered: false },
      );
      await backing.publish(stream, testEvents("after", 1));
      await waitFor(
        () => again.includes("after-0"),
        WAIT_MS,
        "the event after",
        () => again,
      );
      await second.close();
      expect(again).toEqual(["after-0"]);
    } finally {
      await backing.close();
    }
  }, 60_000);
});
