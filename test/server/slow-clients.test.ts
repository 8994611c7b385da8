import net, { type AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { DataPlane, IngressTarget } from "../../src/events/ingress-target.js";
import { Metrics } from "../../src/observability/metrics.js";
import { buildServer } from "../../src/server/app.js";
import { MAX_HEADERS } from "../../src/server/listener.js";

/**
 * CONTRACT §10, slow or abusive clients, over real sockets with small limits: timeouts cut a
 * client that trickles its headers or body, too many or too large headers get 431, and
 * connections past the cap are closed while the others keep being served.
 */

const HEADER_TIMEOUT_MS = 600;
const BODY_TIMEOUT_MS = 1_500;
const MAX_CONNECTIONS = 4;

const EVENT_HEADERS = [
  "ce-specversion: 1.0",
  "ce-id: 1",
  "ce-source: /test",
  "ce-type: t",
  "content-type: application/json",
];

/** A complete binary-mode event POST to the broker, with `extra` header lines. */
function eventRequest(extra: readonly string[] = [], body = "{}"): string {
  return [
    "POST /ns/default HTTP/1.1",
    "host: 127.0.0.1",
    ...EVENT_HEADERS,
    ...extra,
    `content-length: ${Buffer.byteLength(body)}`,
    "",
    body,
  ].join("\r\n");
}

/** A raw client socket that records what it receives and when it is closed. */
class RawClient {
  received = "";
  closed = false;
  readonly socket: net.Socket;
  readonly done: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.on("data", (chunk: Buffer) => {
      this.received += chunk.toString("latin1");
    });
    this.socket.on("error", () => {});
    this.done = new Promise((resolve) =>
      this.socket.once("close", () => {
        this.closed = true;
        resolve();
      }),
    );
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.socket.readyState === "open") resolve();
      this.socket.once("connect", () => resolve());
      this.socket.once("error", reject);
    });
  }

  /** Writes `text` one byte a second until the server closes the socket; returns bytes sent. */
  async trickle(text: string): Promise<number> {
    let sent = 0;
    while (sent < text.length && !this.closed && !this.socket.destroyed) {
      this.socket.write(text[sent]!);
      sent++;
      await Promise.race([sleep(1_000), this.done]);
    }
    return sent;
  }

  /** Sends one request on this (keep-alive) connection and waits for a complete response. */
  async exchange(request: string): Promise<number> {
    const before = this.received.length;
    this.socket.write(request);
    for (;;) {
      const answer = this.received.slice(before);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer);
      const length = /content-length: (\d+)/i.exec(answer);
      const head = answer.indexOf("\r\n\r\n");
      if (status && length && head >= 0 && answer.length >= head + 4 + Number(length[1])) {
        return Number(status[1]);
      }
      if (this.closed) return 0;
      await Promise.race([sleep(10), this.done]);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

describe("slow and abusive clients (real sockets, small limits)", () => {
  const logLines: Record<string, unknown>[] = [];
  let app: FastifyInstance;
  let port = 0;
  let ingested = 0;
  const clients: RawClient[] = [];
  const client = async (): Promise<RawClient> => {
    const opened = new RawClient(port);
    clients.push(opened);
    await opened.connected();
    return opened;
  };

  beforeAll(async () => {
    const target: IngressTarget = {
      name: "default",
      namespace: "ns",
      bodyLimit: 1024 * 1024,
      async ingest() {
        ingested++;
      },
    };
    const dataPlane: DataPlane = {
      isAccepting: () => true,
      broker: (ns, name) => (ns === "ns" && name === "default" ? target : undefined),
      channel: () => undefined,
      flow: () => undefined,
      sink: () => undefined,
      webhook: () => undefined,
      readiness: async () => ({}),
    };
    const logger = pino(
      { level: "info" },
      { write: (line: string) => logLines.push(JSON.parse(line)) },
    );
    app = buildServer({
      dataPlane,
      metrics: new Metrics(),
      logger,
      limits: {
        headerTimeoutMs: HEADER_TIMEOUT_MS,
        bodyTimeoutMs: BODY_TIMEOUT_MS,
        maxConnections: MAX_CONNECTIONS,
      },
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const opened of clients) opened.close();
    await app.close();
  });

  beforeEach(() => {
    for (const opened of clients.splice(0)) opened.close();
    logLines.length = 0;
  });

  it("a client sending its headers one byte a second is answered 408 and cut before it finishes", async () => {
    const slow = await client();
    const request = eventRequest();
    const sent = await slow.trickle(request);
    await slow.done;
    expect(sent).toBeLessThan(request.length);
    expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.received).toContain('"code":"REQUEST_TIMEOUT"');
    expect(logLines).toContainEqual(expect.objectContaining({ code: "REQUEST_TIMEOUT" }));
  });

  it("a client sending its body one byte a second is answered 408 and cut before it finishes", async () => {
    const slow = await client();
    const body = JSON.stringify({ pad: "x".repeat(60) });
    const request = eventRequest([], body);
    const head = request.slice(0, request.length - body.length);
    slow.socket.write(head);
    const sent = await slow.trickle(body);
    await slow.done;
    expect(sent).toBeLessThan(body.length);
    expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(ingested).toBe(0);
  });

  const headerLines = (count: number) =>
    Array.from({ length: count }, (_, i) => `x-extra-${i}: ${i}`);
  // The event request itself carries host, five event headers and content-length: 7.
  const OWN = EVENT_HEADERS.length + 2;

  it.each([
    ["exactly the limit of headers is served", headerLines(MAX_HEADERS - OWN), 202],
    ["one header over the limit is refused", headerLines(MAX_HEADERS - OWN + 1), 431],
    ["200 headers are refused", headerLines(200), 431],
    ["one header of 17 KiB is refused", [`x-big: ${"a".repeat(17 * 1024)}`], 431],
    [
      "headers of 16 KiB in all are refused",
      headerLines(400).map((l) => `${l}${"b".repeat(40)}`),
      431,
    ],
  ])("%s, and the server keeps serving", async (_name, extra, status) => {
    ingested = 0;
    const abusive = await client();
    expect(await abusive.exchange(eventRequest(extra))).toBe(status);
    if (status === 431) {
      expect(abusive.received).toContain('"code":"HEADERS_TOO_LARGE"');
      await abusive.done; // the connection is closed after a 431
      expect(ingested).toBe(0);
    }
    const next = await client();
    expect(await next.exchange(eventRequest())).toBe(202);
    expect(logLines.filter((line) => line["code"] === "HEADERS_TOO_LARGE")).toHaveLength(
      status === 431 ? 1 : 0,
    );
  });

  it("connections past --max-connections are closed unanswered while the open ones keep working", async () => {
    const open: RawClient[] = [];
    for (let i = 0; i < MAX_CONNECTIONS; i++) {
      const kept = await client();
      expect(await kept.exchange(eventRequest())).toBe(202);
      open.push(kept);
    }
    const extra = await client();
    extra.socket.write(eventRequest());
    await extra.done;
    expect(extra.received).toBe("");
    for (const kept of open) expect(await kept.exchange(eventRequest())).toBe(202);
    // Once one closes, a new connection gets its place.
    open[0]!.close();
    await open[0]!.done;
    let status = 0;
    for (let tries = 0; status !== 202 && tries < 100; tries++) {
      const retry = await client();
      status = await retry.exchange(eventRequest());
      if (status !== 202) await sleep(50);
    }
    expect(status).toBe(202);
  });
});
