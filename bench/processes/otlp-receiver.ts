/**
 * The tracing scenario's collector: a bare node:http server that takes OTLP/HTTP exports (JSON or
 * protobuf), answers 200 with an empty success response, and keeps only counts. It runs in its
 * own process so that receiving spans is not charged to the broker's CPU time.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { serveCalls } from "../support/rpc.js";
import type { OtlpReceived, OtlpReceiverReady } from "./protocol.js";

const SPAN_ID = Buffer.from('"spanId":');
let requests = 0;
let bytes = 0;
let jsonSpans = 0;

function countSpans(body: Buffer): number {
  let count = 0;
  for (let at = body.indexOf(SPAN_ID); at >= 0; at = body.indexOf(SPAN_ID, at + SPAN_ID.length)) {
    count++;
  }
  return count;
}

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    const body = Buffer.concat(chunks);
    requests++;
    bytes += body.length;
    const json = (request.headers["content-type"] ?? "").startsWith("application/json");
    if (json) jsonSpans += countSpans(body);
    // An empty ExportTraceServiceResponse: `{}` in JSON, zero bytes in protobuf.
    response.writeHead(200, {
      "content-type": json ? "application/json" : "application/x-protobuf",
    });
    response.end(json ? "{}" : undefined);
  });
});
server.keepAliveTimeout = 60_000;

await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address() as AddressInfo;
serveCalls({ url: `http://127.0.0.1:${port}` } satisfies OtlpReceiverReady, {
  received: (): OtlpReceived => ({ requests, bytes, jsonSpans }),
});
