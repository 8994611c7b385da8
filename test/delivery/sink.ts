import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type { Counter } from "prom-client";

/** A real HTTP subscriber on 127.0.0.1 that records every request and answers as told. */

export interface ReceivedRequest {
  /** performance.now() when the request's body had arrived. */
  at: number;
  /** performance.now() when the answer was handed to the socket (undefined: not answered). */
  answeredAt?: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface SinkAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** Answers the n-th request (1-based); "hang" never answers. */
export type Responder = (request: ReceivedRequest, n: number) => SinkAnswer | "hang";

export interface Sink {
  url: string;
  requests: ReceivedRequest[];
  /** TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startSink(respond: Responder = () => ({ status: 202 })): Promise<Sink> {
  const requests: ReceivedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received: ReceivedRequest = {
        at: performance.now(),
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      requests.push(received);
      const answer = respond(received, requests.length);
      if (answer === "hang") return;
      const body = answer.body === undefined ? undefined : Buffer.from(answer.body);
      res.writeHead(answer.status, {
        ...answer.headers,
        ...(body ? { "content-length": String(body.length) } : {}),
      });
      res.end(body, () => {
        received.answeredAt = performance.now();
      });
    });
  });
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/subscriber`,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The value of one series of a counter, 0 when it was never incremented. */
export async function counterValue(
  counter: Counter<string>,
  labels: Record<string, string | number>,
): Promise<number> {
  const { values } = await counter.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([name, value]) => String(v.labels[name]) === String(value)),
  );
  return match?.value ?? 0;
}
