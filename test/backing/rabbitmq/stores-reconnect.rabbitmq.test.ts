import { randomUUID } from "node:crypto";
import net from "node:net";
import { connect } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterRecord } from "../../../src/backing/dead-letter.js";
import { RabbitConnector } from "../../../src/backing/rabbitmq/connection.js";
import { RabbitDeadLetterStore } from "../../../src/backing/rabbitmq/dead-letter-store.js";
import { RabbitJourneyStore } from "../../../src/backing/rabbitmq/journey-store.js";
import { parseRabbitSettings } from "../../../src/backing/rabbitmq/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("rabbitmq");

/** A relay to RabbitMQ whose connections can be dropped while it keeps accepting new ones. */
async function droppingProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;
  const proxied = new URL(target);
  proxied.host = `127.0.0.1:${address.port}`;
  return {
    url: proxied.toString(),
    drop: () => {
      for (const socket of sockets) socket.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const closables: Array<{ close(): Promise<void> }> = [];
const streams: string[] = [];
afterEach(async () => {
  for (const closable of closables.splice(0).reverse()) await closable.close();
  const model = await connect(url!);
  const channel = await model.createChannel();
  for (const queue of streams.splice(0)) await channel.deleteQueue(queue).catch(() => undefined);
  await model.close();
});

/** A connector (one "process") on `to`, with the quick heartbeat a lost link is noticed by. */
function connectorOn(to: string) {
  const settings = parseRabbitSettings({ kind: "rabbitmq", settings: { url: to } });
  const connector = new RabbitConnector(settings, silentLogger());
  closables.push(connector);
  return { connector, settings };
}

function record(id: string): DeadLetterRecord {
  return {
    event: { attributes: { specversion: "1.0", id, source: "/test", type: "order.created" } },
    kind: "Trigger",
    name: "fails",
    knativeerrordest: "http://127.0.0.1:1/",
    attempts: 1,
    at: 1_700_000_000_000,
  };
}

const HOUR = 3_600_000;
const route = (name: string) => ({ kind: "Trigger", name, outcome: "delivered" }) as const;

/** Writes one report from a process of its own and closes it, which waits until it is stored. */
async function write(queue: string, id: string, name: string): Promise<void> {
  const near = connectorOn(url!);
  const writer = new RabbitJourneyStore(near.connector, near.settings, silentLogger(), queue);
  writer.writeRoute("ns", id, "/s", route(name), HOUR);
  await writer.close();
}

describe.skipIf(!url)("RabbitMQ stores after their connection was lost", () => {
  it("a journey reader attaches again and resumes where it was, missing nothing written meanwhile", async () => {
    const proxy = await droppingProxy(url!);
    closables.push(proxy);
    const queue = `eventail.test.journeys.${randomUUID().slice(0, 8)}`;
    streams.push(queue);
    const far = connectorOn(proxy.url);
    const reader = new RabbitJourneyStore(far.connector, far.settings, silentLogger(), queue);
    closables.push(reader);
    const id = randomUUID();

    await write(queue, id, "before");
    expect((await reader.read("ns", id))[0]?.routes.map((r) => r.name)).toEqual(["before"]);

    proxy.drop();
    await write(queue, id, "meanwhile");
    const names = (await reader.read("ns", id))[0]?.routes.map((r) => r.name);
    expect(names?.sort()).toEqual(["before", "meanwhile"]);
  });

  it("a dead-letter store lists and removes after its connection came back", async () => {
    const proxy = await droppingProxy(url!);
    closables.push(proxy);
    const queue = `eventail.test.deadletters.${randomUUID().slice(0, 8)}`;
    streams.push(queue);
    const far = connectorOn(proxy.url);
    const store = new RabbitDeadLetterStore(far.connector, far.settings, silentLogger(), queue);
    closables.push(store);
    const near = connectorOn(url!);
    const other = new RabbitDeadLetterStore(near.connector, near.settings, silentLogger(), queue);
    closables.push(other);

    await store.add("ns", record("one"), 10);
    proxy.drop();
    await other.add("ns", record("two"), 10);
    const listed = await store.list("ns", undefined, 10);
    expect(listed.map((e) => e.event.attributes["id"])).toEqual(["one", "two"]);
    expect(await store.remove("ns", listed[0]!.entryId)).toBe(true);
    expect((await other.list("ns", undefined, 10)).map((e) => e.event.attributes["id"])).toEqual([
      "two",
    ]);
  });
});
