import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CloudEvent } from "../../src/events/event.js";
import type { DataPlane, IngressTarget } from "../../src/events/ingress-target.js";
import { silentLogger } from "../../src/observability/logger.js";
import { Metrics } from "../../src/observability/metrics.js";
import { buildServer } from "../../src/server/app.js";
import { directIngress } from "../../src/server/direct-ingress.js";
import { InFlightLimit, ingressRoutes } from "../../src/server/ingress.js";

/**
 * Which requests the direct ingress door takes and which it leaves to fastify, over a real socket:
 * the server below answers 299 "fastify" for whatever the door declines.
 */

const LEFT = 299;

describe("the direct ingress door", () => {
  const ingested: { target: string; events: readonly CloudEvent[] }[] = [];
  let accepting = true;
  let url = "";
  let server: http.Server;
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
    ["ns/x".padEnd(104, "x"), target("long")],
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
    const door = directIngress({
      dataPlane,
      routes: ingressRoutes(dataPlane),
      metrics,
      logger: silentLogger(),
      capacity: new InFlightLimit(10),
    });
    server = http.createServer((req, res) => {
      if (!door(req, res)) {
        req.resume();
        res.writeHead(LEFT).end("fastify");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const event = {
    "ce-specversion": "1.0",
    "ce-id": "1",
    "ce-source": "/test",
    "ce-type": "t",
    "content-type": "application/json",
  };

  const send = async (
    path: string,
    options: { method?: string; body?: string | Readable; headers?: Record<string, string> } = {},
  ) => {
    const response = await request(`${url}${path}`, {
      method: (options.method ?? "POST") as "POST",
      headers: options.headers ?? event,
      body: options.body ?? "{}",
    });
    return { status: response.statusCode, text: await response.body.text() };
  };

  it.each([
    ["/ns/default", "broker"],
    ["/ns/default?x=1", "broker"],
    ["/channels/ns/orders", "channel"],
    ["/flows/ns/sequences/steps", "sequences"],
    ["/flows/ns/parallels/steps", "parallels"],
  ])("takes POST %s and hands the event to the %s", async (path, name) => {
    ingested.length = 0;
    expect(await send(path)).toEqual({ status: 202, text: "" });
    expect(ingested).toHaveLength(1);
    expect(ingested[0]!.target).toBe(name);
    expect(ingested[0]!.events[0]!.attributes["id"]).toBe("1");
  });

  it.each([
    ["a GET", "/ns/default", { method: "GET", body: undefined }],
    ["an unknown broker", "/ns/nope", {}],
    ["a trailing slash", "/ns/default/", {}],
    ["a percent-encoded path", "/ns/%64efault", {}],
    ["a segment over 100 characters (fastify's 404)", `/${"ns/x".padEnd(104, "x")}`, {}],
    ["a 3-segment path that is not a channel", "/sinks/ns/default", {}],
    ["a flow of another kind", "/flows/ns/branches/steps", {}],
    ["a declared length over the target's limit", "/ns/small", { body: "x".repeat(11) }],
    ["a chunked body", "/ns/default", { body: Readable.from([Buffer.from("{}")]) }],
  ])("leaves %s to fastify", async (_what, path, options) => {
    ingested.length = 0;
    expect(await send(path, options)).toEqual({ status: LEFT, text: "fastify" });
    expect(ingested).toHaveLength(0);
  });

  it("leaves everything to fastify once the process stops accepting", async () => {
    accepting = false;
    try {
      expect(await send("/ns/default")).toEqual({ status: LEFT, text: "fastify" });
    } finally {
      accepting = true;
    }
  });

  it("a client gone mid-body has nothing accepted, and the door keeps serving", async () => {
    ingested.length = 0;
    const { port } = server.address() as AddressInfo;
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const head = Object.entries(event)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("");
    socket.write(`POST /ns/default HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n${head}\r\n{"a":`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ingested).toHaveLength(0);
    expect(await send("/ns/default")).toEqual({ status: 202, text: "" });
    expect(ingested).toHaveLength(1);
  });

  it("answers an invalid event itself, with the catalogue's body, and counts it", async () => {
    const { status, text } = await send("/ns/default", {
      headers: { ...event, "ce-id": "" },
    });
    expect(status).toBe(400);
    expect(JSON.parse(text)).toMatchObject({ code: "INVALID_EVENT" });
    const counted = await metrics.registry.getSingleMetricAsString("eventail_ingress_events_total");
    expect(counted).toMatch(/namespace="ns",broker="default",code="400"} 1/);
  });
});

describe("buildServer puts the direct door in front of fastify", () => {
  it("serves a declared-length POST without fastify, and a chunked one through it", async () => {
    const ingested: string[] = [];
    const broker: IngressTarget = {
      name: "default",
      namespace: "ns",
      bodyLimit: 1024,
      async ingest(events) {
        for (const event of events) ingested.push(String(event.attributes["id"]));
      },
    };
    const dataPlane: DataPlane = {
      isAccepting: () => true,
      broker: (ns, name) => (ns === "ns" && name === "default" ? broker : undefined),
      channel: () => undefined,
      flow: () => undefined,
      sink: () => undefined,
      webhook: () => undefined,
      readiness: async () => ({}),
    };
    const app = buildServer({ dataPlane, metrics: new Metrics(), logger: silentLogger() });
    // fastify's hooks run only for the requests fastify routes.
    const routed: string[] = [];
    app.addHook("onRequest", (request, _reply, done) => {
      routed.push(`${request.method} ${request.url}`);
      done();
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const { port } = app.server.address() as AddressInfo;
      const post = async (id: string, body: string | Readable) => {
        const response = await request(`http://127.0.0.1:${port}/ns/default`, {
          method: "POST",
          headers: { "ce-specversion": "1.0", "ce-id": id, "ce-source": "/s", "ce-type": "t" },
          body,
        });
        await response.body.dump();
        return response.statusCode;
      };
      expect(await post("declared", "{}")).toBe(202);
      expect(routed).toEqual([]);
      expect(await post("chunked", Readable.from([Buffer.from("{}")]))).toBe(202);
      expect(routed).toEqual(["POST /ns/default"]);
      expect(ingested).toEqual(["declared", "chunked"]);
    } finally {
      await app.close();
    }
  });
});
