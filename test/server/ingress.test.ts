import net, { type AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { CloudEvent } from "../../src/events/event.js";
import type { DataPlane, IngressTarget } from "../../src/events/ingress-target.js";
import { Metrics } from "../../src/observability/metrics.js";
import { buildServer } from "../../src/server/app.js";

/**
 * The one ingress over a real socket: which requests it serves in front of fastify and which it
 * leaves to fastify's routes, and how it answers each. The data plane below holds in-process
 * targets that record what they are given.
 */

const event = {
  "ce-specversion": "1.0",
  "ce-id": "1",
  "ce-source": "/test",
  "ce-type": "t",
  "content-type": "application/json",
};
const LONG = "x".repeat(120);

describe("the ingress in front of fastify", () => {
  const ingested: { target: string; events: readonly CloudEvent[] }[] = [];
  const logLines: Record<string, unknown>[] = [];
  const routed: string[] = [];
  let accepting = true;
  let url = "";
  let port = 0;
  let app: FastifyInstance;
  const metrics = new Metrics();

  const target = (name: string, bodyLimit = 1024): IngressTarget => ({
    name,
    namespace: "ns",
    bodyLimit,
    async ingest(events) {
      ingested.push({ target: name, events });
    },
  });
  const brokers = new Map([
    ["ns/default", target("broker")],
    ["ns/small", target("small", 10)],
    ["ns/a b", target("spaced")],
    [`ns/${LONG}`, target("long")],
  ]);
  const dataPlane: DataPlane = {
    isAccepting: () => accepting,
    broker: (ns, name) => brokers.get(`${ns}/${name}`),
    channel: (ns, name) => (ns === "ns" && name === "orders" ? target("channel") : undefined),
    flow: (ns, kind, name) => (ns === "ns" && name === "steps" ? target(kind) : undefined),
    sink: () => undefined,
    webhook: () => undefined,
    readiness: async () => ({}),
  };

  beforeAll(async () => {
    const logger = pino(
      { level: "info" },
      { write: (line: string) => logLines.push(JSON.parse(line)) },
    );
    app = buildServer({ dataPlane, metrics, logger });
    // Surfaces other helpers add (the console, the token issuer) claim 2-segment paths that the
    // broker's `/:namespace/:name` would otherwise match.
    app.get("/ui/:page", async () => ({ served: "ui" }));
    await app.register(
      async (plugin) => {
        plugin.get("/jwks.json", async () => ({ served: "jwks" }));
      },
      { prefix: "/.well-known" },
    );
    // fastify's hooks run only for the requests fastify routes.
    app.addHook("onRequest", (req, _reply, done) => {
      routed.push(`${req.method} ${req.url}`);
      done();
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as AddressInfo).port;
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await app.close();
  });

  beforeEach(() => {
    ingested.length = 0;
    logLines.length = 0;
    routed.length = 0;
  });

  const send = async (
    path: string,
    options: { method?: string; body?: string | Readable; headers?: Record<string, string> } = {},
  ) => {
    const method = options.method ?? "POST";
    const response = await request(`${url}${path}`, {
      method: method as "POST",
      headers: options.headers ?? event,
      body: method === "POST" ? (options.body ?? "{}") : options.body,
    });
    const { date: _date, "keep-alive": _keepAlive, ...headers } = response.headers;
    if (headers["connection"] === "keep-alive") delete headers["connection"];
    const text = await response.body.text();
    return {
      status: response.statusCode,
      headers,
      body: text === "" ? undefined : JSON.parse(text),
    };
  };
  const chunked = (text: string) => Readable.from([Buffer.from(text)]);

  it.each([
    ["a broker", "/ns/default", "broker"],
    ["a broker, ignoring the query", "/ns/default?x=1", "broker"],
    ["a broker by a percent-encoded name", "/ns/%64efault", "broker"],
    ["a broker whose name decodes to a space", "/ns/a%20b", "spaced"],
    ["a broker whose name is over 100 characters", `/ns/${LONG}`, "long"],
    ["a channel", "/channels/ns/orders", "channel"],
    ["a sequence", "/flows/ns/sequences/steps", "sequences"],
    ["a parallel", "/flows/ns/parallels/steps", "parallels"],
  ])("serves POST to %s without fastify, declared or chunked", async (_what, path, name) => {
    for (const body of ["{}", chunked("{}")]) {
      ingested.length = 0;
      expect(await send(path, { body })).toEqual({
        status: 202,
        headers: { "content-length": "0" },
        body: undefined,
      });
      expect(ingested).toHaveLength(1);
      expect(ingested[0]!.target).toBe(name);
      expect(ingested[0]!.events[0]!.attributes["id"]).toBe("1");
    }
    expect(routed).toEqual([]);
  });

  const errorHeaders = (body: string, extra: Record<string, string> = {}) => ({
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    ...extra,
  });

  it.each([
    ["an unknown broker", "/ns/nope", "broker ns/nope does not exist"],
    ["an unknown channel", "/channels/ns/nope", "channel ns/nope does not exist"],
    ["an unknown sequence", "/flows/ns/sequences/nope", "sequence ns/nope does not exist"],
    ["an unknown parallel", "/flows/ns/parallels/nope", "parallel ns/nope does not exist"],
    ["a decoded unknown name", "/ns/no%2Fpe", "broker ns/no/pe does not exist"],
  ])("answers 404 for %s, naming it", async (_what, path, error) => {
    const payload = JSON.stringify({ error, code: "NOT_FOUND" });
    expect(await send(path)).toEqual({
      status: 404,
      headers: errorHeaders(payload),
      body: JSON.parse(payload),
    });
    expect(routed).toEqual([]);
    expect(logLines).toEqual([
      expect.objectContaining({ msg: "request rejected", code: "NOT_FOUND", reason: error }),
    ]);
  });

  it("answers 400 for a parameter that is not valid percent-encoding", async () => {
    const answer = await send("/ns/%zz");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error: "path segment %zz is not valid percent-encoding",
      code: "INVALID_URL",
    });
    expect(routed).toEqual([]);
  });

  it.each([
    ["a trailing slash", "/ns/default/", "POST", 404, "NOT_FOUND"],
    ["an empty name", "/ns//", "POST", 404, "NOT_FOUND"],
    ["a flow of another kind", "/flows/ns/branches/steps", "POST", 404, "NOT_FOUND"],
    ["a 3-segment path that is not a channel", "/sinks/ns/default", "POST", 404, "NOT_FOUND"],
    ["a path another surface claims", "/ui/index", "GET", 200, undefined],
    ["another method on a path another surface claims", "/ui/index", "POST", 404, "NOT_FOUND"],
    ["a prefixed plugin's path", "/.well-known/jwks.json", "GET", 200, undefined],
    ["health", "/healthz", "GET", 200, undefined],
  ])("leaves %s to fastify", async (_what, path, method, status, code) => {
    const answer = await send(path, { method });
    expect(answer.status).toBe(status);
    if (code) expect(answer.body).toMatchObject({ code });
    expect(routed).toEqual([`${method} ${path}`]);
    expect(ingested).toHaveLength(0);
  });

  it("leaves a bad encoding outside ingress to fastify, which answers from the catalogue too", async () => {
    expect(await send("/sinks/ns/%zz")).toMatchObject({
      status: 400,
      body: { error: "'/sinks/ns/%zz' is not a valid url component", code: "INVALID_URL" },
    });
    expect(ingested).toHaveLength(0);
  });

  it("serves a request line in the absolute form proxies send", async () => {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const head = Object.entries(event)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    const answer = new Promise<string>((resolve) =>
      socket.once("data", (chunk) => resolve(String(chunk))),
    );
    socket.write(
      `POST http://x/ns/default?y=1 HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n${head}\r\n{}`,
    );
    expect(await answer).toMatch(/^HTTP\/1\.1 202 /);
    socket.destroy();
    expect(ingested.map((entry) => entry.target)).toEqual(["broker"]);
    expect(routed).toEqual([]);
  });

  it("answers the CloudEvents webhook handshake on OPTIONS", async () => {
    expect(await send("/ns/default", { method: "OPTIONS" })).toEqual({
      status: 200,
      headers: {
        allow: "POST, OPTIONS",
        "webhook-allowed-origin": "*",
        "webhook-allowed-rate": "*",
        "content-length": "0",
      },
      body: undefined,
    });
    expect(routed).toEqual([]);
  });

  it.each(["GET", "PUT", "DELETE", "PATCH"])("answers %s with 405 and Allow", async (method) => {
    const payload = JSON.stringify({
      error: `method ${method} is not allowed; use POST`,
      code: "METHOD_NOT_ALLOWED",
    });
    expect(await send("/channels/ns/orders", { method })).toEqual({
      status: 405,
      headers: errorHeaders(payload, { allow: "POST, OPTIONS" }),
      body: JSON.parse(payload),
    });
  });

  it("answers HEAD with 405 and no body", async () => {
    const response = await request(`${url}/ns/default`, { method: "HEAD" });
    expect(response.statusCode).toBe(405);
    expect(response.headers["allow"]).toBe("POST, OPTIONS");
    expect(await response.body.text()).toBe("");
  });

  it("answers 503 with Retry-After and closes the connection once it stops accepting", async () => {
    accepting = false;
    try {
      const payload = JSON.stringify({
        error: "shutting down; send to another instance",
        code: "SHUTTING_DOWN",
      });
      expect(await send("/ns/default")).toEqual({
        status: 503,
        headers: errorHeaders(payload, { "retry-after": "1", connection: "close" }),
        body: JSON.parse(payload),
      });
      expect((await send("/ns/default", { method: "OPTIONS" })).status).toBe(200);
      expect(ingested).toHaveLength(0);
    } finally {
      accepting = true;
    }
  });

  it.each([
    [
      "a declared length over the limit",
      "x".repeat(11),
      "request body of 11 bytes exceeds the limit of 10 bytes",
    ],
    [
      "a chunked body over the limit",
      chunked("x".repeat(11)),
      "request body exceeds the limit of 10 bytes",
    ],
  ])("answers 413 for %s and closes the connection", async (_what, body, error) => {
    const payload = JSON.stringify({ error, code: "PAYLOAD_TOO_LARGE" });
    expect(await send("/ns/small", { body })).toEqual({
      status: 413,
      headers: errorHeaders(payload, { connection: "close" }),
      body: JSON.parse(payload),
    });
    expect(ingested).toHaveLength(0);
  });

  it("accepts a chunked body of exactly the limit", async () => {
    expect(
      (
        await send("/ns/small", {
          body: chunked("x".repeat(10)),
          headers: { ...event, "content-type": "text/plain" },
        })
      ).status,
    ).toBe(202);
    expect(ingested).toHaveLength(1);
  });

  it("stops reading a chunked body that never ends once it passes the limit", async () => {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const received: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("error", () => {});
    const head = Object.entries(event)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST /ns/small HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n${head}\r\n`);
    // The client keeps sending; the server must answer and close rather than read forever.
    const timer = setInterval(() => {
      if (!socket.destroyed) socket.write("8\r\nxxxxxxxx\r\n");
    }, 5);
    try {
      await closed;
    } finally {
      clearInterval(timer);
    }
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 413 /);
    expect(ingested).toHaveLength(0);
  });

  it.each([
    ["declared", "content-length: 100\r\n"],
    ["chunked", "transfer-encoding: chunked\r\n\r\n5\r\n"],
  ])(
    "has nothing accepted from a client gone mid-body (%s), and keeps serving",
    async (_what, framing) => {
      const socket = net.connect(port, "127.0.0.1");
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      const head = Object.entries(event)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join("");
      const [lengthHeader, start = ""] = framing.split("\r\n\r\n");
      socket.write(
        `POST /ns/default HTTP/1.1\r\nhost: x\r\n${lengthHeader}\r\n${head}\r\n${start}{"a":`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ingested).toHaveLength(0);
      expect((await send("/ns/default")).status).toBe(202);
      expect(ingested).toHaveLength(1);
    },
  );

  it("answers an invalid event with the catalogue's body, logs one line, and counts it", async () => {
    const before = await metrics.registry.getSingleMetricAsString("eventail_ingress_events_total");
    const countOf = (text: string) =>
      Number(/namespace="ns",broker="default",code="400"} (\d+)/.exec(text)?.[1] ?? 0);
    const answer = await send("/ns/default", { headers: { ...event, "ce-id": "" } });
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: "missing required header ce-id", code: "INVALID_EVENT" });
    expect(logLines).toEqual([
      expect.objectContaining({
        msg: "request rejected",
        code: "INVALID_EVENT",
        url: "/ns/default",
      }),
    ]);
    const after = await metrics.registry.getSingleMetricAsString("eventail_ingress_events_total");
    expect(countOf(after)).toBe(countOf(before) + 1);
  });

  it.each([
    ["405", "GET", "/ns/default"],
    ["404", "POST", "/ns/nope"],
    ["200", "OPTIONS", "/ns/default"],
  ])("counts a %s answer in the ingress metric", async (code, method, path) => {
    const name = path.split("/")[2]!;
    const pattern = new RegExp(`namespace="ns",broker="${name}",code="${code}"} (\\d+)`);
    const countOf = async () =>
      Number(
        pattern.exec(
          await metrics.registry.getSingleMetricAsString("eventail_ingress_events_total"),
        )?.[1] ?? 0,
      );
    const before = await countOf();
    await send(path, { method });
    expect(await countOf()).toBe(before + 1);
  });

  it("is not reached by inject(), which only fastify's routes serve", async () => {
    const response = await app.inject({
      method: "POST",
      url: "/ns/default",
      headers: event,
      payload: "{}",
    });
    expect(response.statusCode).toBe(404);
    expect(ingested).toHaveLength(0);
  });
});
