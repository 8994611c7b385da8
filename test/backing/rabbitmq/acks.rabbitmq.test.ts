import net from "node:net";
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

const url = serviceUrl("rabbitmq");
const WAIT_MS = 20_000;
/** AMQP 0-9-1: a method frame is type 1; basic.ack is class 60, method 80. */
const METHOD_FRAME = 1;
const BASIC_CLASS = 60;
const BASIC_ACK = 80;

/** A TCP relay to RabbitMQ that counts the basic.ack frames the client sends. */
class AckCountingProxy {
  acks = 0;
  /** basic.ack frames with the `multiple` bit set. */
  multipleAcks = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(target: URL): Promise<AckCountingProxy> {
    const server = net.createServer();
    const proxy = new AckCountingProxy(server);
    server.on("connection", (client) => proxy.#relay(client, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #relay(client: net.Socket, target: URL): void {
    const upstream = net.connect(Number(target.port || 5672), target.hostname);
    this.#sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let headerSeen = false;
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      if (!headerSeen) {
        if (pending.length < 8) return;
        pending = pending.subarray(8); // "AMQP" 0 0 9 1
        headerSeen = true;
      }
      while (pending.length >= 7) {
        const size = pending.readUInt32BE(3);
        if (pending.length < 7 + size + 1) break;
        const payload = pending.subarray(7, 7 + size);
        if (
          pending[0] === METHOD_FRAME &&
          payload.readUInt16BE(0) === BASIC_CLASS &&
          payload.readUInt16BE(2) === BASIC_ACK
        ) {
          this.acks++;
          if ((payload[12]! & 1) === 1) this.multipleAcks++;
        }
        pending = pending.subarray(7 + size + 1);
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe.skipIf(!url)("RabbitMQ consumer acknowledgements", () => {
  let proxy: AckCountingProxy;
  let admin: ChannelModel;

  beforeAll(async () => {
    proxy = await AckCountingProxy.start(new URL(url!));
    admin = await connect(url!);
  });
  afterAll(async () => {
    await admin.close();
    await proxy.close();
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
    const proxied = new URL(url!);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    const backing = await createBacking(
      { kind: "rabbitmq", settings: { url: proxied.toString(), queueExpiresMs: "60000" } },
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
      const before = proxy.acks;
      await waitFor(() => proxy.acks > before, WAIT_MS, "the acknowledgement");
      // A graceful close right after: the acks of its last turn are sent before the channel goes.
      await subscription.close();

      expect(new Set(received).size).toBe(count);
      expect(proxy.acks - before).toBe(1);
      expect(proxy.multipleAcks).toBeGreaterThanOrEqual(1);
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
