import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { delivery, harness, labels, sampleEvent, sink, until } from "./harness.js";

/**
 * How an attempt reads a response body: what it keeps, when it reuses the connection, and when
 * it cuts it (a subscriber streaming an endless body must not hold a delivery forever).
 */

interface CountingServer {
  url: string;
  /** Connections that carried a request and have since been closed. */
  closed: number;
  /** Bytes written to each response before the client went away. */
  written: number[];
  close(): Promise<void>;
}

const servers: CountingServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** Answers every request with `status` and an endless body, counting what it wrote. */
async function endlessBody(status: number): Promise<CountingServer> {
  const sockets = new Set<Socket>();
  const state = { closed: 0, written: [] as number[] };
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server = http.createServer((req, res) => {
    req.socket.once("close", () => state.closed++);
    req.resume();
    req.on("end", () => {
      res.writeHead(status, { "content-type": "text/plain" });
      let written = 0;
      const pump = () => {
        while (!res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return;
        }
      };
      res.on("drain", pump);
      res.on("close", () => state.written.push(written));
      pump();
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const handle: CountingServer = {
    url: `http://127.0.0.1:${port}/endless`,
    get closed() {
      return state.closed;
    },
    written: state.written,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

describe("response bodies", () => {
  it("an endless 500 body is cut after 4 MiB: the attempt fails with the body's first 1024 bytes as knativeerrordata", async () => {
    const subscriber = await endlessBody(500);
    const deadLetters = await sink();
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ retry: 0, timeoutMs: 20_000, deadLetterSink: deadLetters.url }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "dead-lettered", attempts: 1, status: 500 });
    const errorData = deadLetters.requests[0]!.headers["ce-knativeerrordata"];
    expect(Buffer.from(String(errorData), "base64")).toEqual(Buffer.alloc(1024, 0x61));
    await until(() => subscriber.closed === 1, "the connection to be cut");
    // The connection was cut past the drain limit, not read to the end (there is none).
    expect(subscriber.written[0]).toBeGreaterThan(4 * 1024 * 1024);
    expect(subscriber.written[0]).toBeLessThan(64 * 1024 * 1024);
  });

  it("an endless 202 body is cut too: the delivery counts as delivered", async () => {
    const subscriber = await endlessBody(202);
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(
      sampleEvent(),
      subscriber.url,
      delivery({ timeoutMs: 20_000 }),
      labels,
    );

    expect(outcome).toMatchObject({ kind: "delivered", status: 202, attempts: 1 });
    await until(() => subscriber.closed === 1, "the connection to be cut");
  });

  it("a 200 with a plain body is drained and its connection reused for later deliveries", async () => {
    const subscriber = await sink(() => ({ status: 200, body: "ok, thanks" }));
    const { dispatcher } = harness();

    for (let n = 0; n < 10; n++) {
      const outcome = await dispatcher.deliver(
        sampleEvent({ id: `e${n}` }),
        subscriber.url,
        delivery(),
        labels,
      );
      expect(outcome).toMatchObject({ kind: "delivered", status: 200, attempts: 1 });
    }

    expect(subscriber.requests).toHaveLength(10);
    // undici may open a second connection while the first is being put back; never one each.
    expect(subscriber.connections).toBeLessThanOrEqual(2);
  });

  it("a reply split over many chunks is put back together", async () => {
    const data = Buffer.from(JSON.stringify({ text: "x".repeat(200_000) }));
    const subscriber = await sink(() => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "reply-1",
        "ce-source": "/reply",
        "ce-type": "com.example.reply",
        "content-type": "application/json",
      },
      body: data,
    }));
    const { dispatcher } = harness();

    const outcome = await dispatcher.deliver(sampleEvent(), subscriber.url, delivery(), labels);

    expect(outcome.kind).toBe("replied");
    if (outcome.kind !== "replied") return;
    expect(outcome.reply.attributes["id"]).toBe("reply-1");
    expect(outcome.reply.data).toEqual(data);
  });
});
