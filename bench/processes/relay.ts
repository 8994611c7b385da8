/**
 * The baseline: the least a store-and-forward hop over HTTP can do. fastify receives the request,
 * undici forwards its CloudEvents headers and body to the sink over a keep-alive pool, and the
 * relay answers 202 once the sink has. No decoding, no validation, no queue: what Eventail does
 * on top of this is what the benchmark prices.
 *
 * argv: the URL to forward to.
 */
import type { AddressInfo } from "node:net";
import Fastify from "fastify";
import { Pool } from "undici";
import { serveCalls } from "../support/rpc.js";
import type { RelayReady } from "./protocol.js";

const target = new URL(process.argv[2] ?? "");
const pool = new Pool(target.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 });

const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

app.post("/*", async (request, reply) => {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string" && (name.startsWith("ce-") || name === "content-type")) {
      headers[name] = value;
    }
  }
  const response = await pool.request({
    path: target.pathname,
    method: "POST",
    headers,
    body: request.body as Buffer,
  });
  await response.body.dump();
  reply.code(response.statusCode >= 200 && response.statusCode < 300 ? 202 : 502).send();
});

await app.listen({ host: "127.0.0.1", port: 0 });
const { port } = app.server.address() as AddressInfo;
serveCalls({ url: `http://127.0.0.1:${port}/relay` } satisfies RelayReady, {});
