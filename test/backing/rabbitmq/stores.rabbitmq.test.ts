import { randomBytes, randomUUID } from "node:crypto";
import { connect } from "amqplib";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterRecord } from "../../../src/backing/dead-letter.js";
import { RabbitConnector } from "../../../src/backing/rabbitmq/connection.js";
import { RabbitDeadLetterStore } from "../../../src/backing/rabbitmq/dead-letter-store.js";
import { RabbitJourneyStore } from "../../../src/backing/rabbitmq/journey-store.js";
import { parseRabbitSettings } from "../../../src/backing/rabbitmq/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";
import { liveDeadLetters, readStream } from "./stream-reader.js";

const url = serviceUrl("rabbitmq");
const settings = parseRabbitSettings({ kind: "rabbitmq", settings: { url: url ?? "" } });

/** Each store stands for one process: a connection and a reader of its own. */
const opened: Array<{ close(): Promise<void> }> = [];
const streams: string[] = [];

afterEach(async () => {
  for (const closable of opened.splice(0).reverse()) await closable.close();
  if (streams.length === 0) return;
  const model = await connect(url!);
  const channel = await model.createChannel();
  for (const queue of streams.splice(0)) await channel.deleteQueue(queue).catch(() => undefined);
  await model.close();
});

function connector(): RabbitConnector {
  const made = new RabbitConnector(settings, silentLogger());
  opened.push(made);
  return made;
}

function stream(kind: string): string {
  const queue = `eventail.test.${kind}.${randomUUID().slice(0, 8)}`;
  streams.push(queue);
  return queue;
}

function journeys(queue: string): RabbitJourneyStore {
  const store = new RabbitJourneyStore(connector(), settings, silentLogger(), queue);
  opened.push(store);
  return store;
}

function deadLetters(queue: string): RabbitDeadLetterStore {
  const store = new RabbitDeadLetterStore(connector(), settings, silentLogger(), queue);
  opened.push(store);
  return store;
}

const accepted = { at: 1, stream: "broker.journeys.default", size: 2, type: "order.created" };
const pending = { kind: "Trigger", name: "takes-all", outcome: "pending" } as const;
const delivered = {
  kind: "Trigger",
  name: "takes-all",
  outcome: "delivered",
  attempts: [{ at: 2, status: 202, durationMs: 3 }],
} as const;
const HOUR = 3_600_000;

describe.skipIf(!url)("journeys on a RabbitMQ stream", () => {
  it("one process writes, another reads at once, and a restarted one still reads", async () => {
    const queue = stream("journeys");
    const a = journeys(queue);
    const b = journeys(queue);
    const id = `order/1 ${randomUUID()}`;
    a.writeAccepted("journeys", id, "/orders", accepted, HOUR);
    b.writeRoute("journeys", id, "/orders", pending, HOUR);
    // A later outcome of the same route replaces the earlier one.
    b.writeRoute("journeys", id, "/orders", delivered, HOUR);
    await a.close();
    await b.close();
    // A reader that never wrote: its first lookup reads the stream up to where it stood.
    const c = journeys(queue);
    expect(await c.read("journeys", id)).toEqual([
      { source: "/orders", accepted, routes: [delivered] },
    ]);
    // A report written after the reader started is found by the next lookup, without polling.
    const d = journeys(queue);
    d.writeRoute("journeys", id, "/orders", { ...pending, name: "second" }, HOUR);
    await d.close();
    const routes = (await c.read("journeys", id))[0]?.routes.map((r) => r.name);
    expect(routes?.sort()).toEqual(["second", "takes-all"]);
  });

  it("carries a turn's reports in one message, keeps sources apart, and skips expired ones", async () => {
    const queue = stream("journeys");
    const a = journeys(queue);
    const id = randomUUID();
    a.writeAccepted("journeys", id, "/a", accepted, HOUR);
    a.writeAccepted("journeys", id, "/b", accepted, HOUR);
    a.writeRoute("journeys", id, "/b", delivered, HOUR);
    // Expired the moment it was written: on the stream, but never answered.
    a.writeAccepted("journeys", id, "/gone", accepted, 1);
    a.writeAccepted("elsewhere", id, "/c", accepted, HOUR);
    await a.close();
    expect(await messagesIn(queue)).toBe(1);
    const reader = journeys(queue);
    const seen = await reader.read("journeys", id);
    const bySource = Object.fromEntries(seen.map((s) => [s.source, s]));
    expect(Object.keys(bySource).sort()).toEqual(["/a", "/b"]);
    expect(bySource["/a"]).toEqual({ source: "/a", accepted, routes: [] });
    expect(bySource["/b"]).toEqual({ source: "/b", accepted, routes: [delivered] });
  });

  it("answers nothing for an unknown id", async () => {
    expect(await journeys(stream("journeys")).read("journeys", randomUUID())).toEqual([]);
  });
});

/** Messages of one kind on the stream, as a plain AMQP consumer reads it. */
async function messagesIn(queue: string, kind = "journeys"): Promise<number> {
  return (await readStream(url!, queue)).filter((m) => m.headers["eventail-kind"] === kind).length;
}

const ERROR_DATA = randomBytes(1024).toString("base64");

function record(id: string, data?: Buffer): DeadLetterRecord {
  return {
    event: {
      attributes: { specversion: "1.0", id, source: "/test", type: "order.created" },
      ...(data === undefined ? {} : { data }),
    },
    kind: "Trigger",
    name: "fails",
    knativeerrordest: "http://127.0.0.1:1/ü",
    knativeerrorcode: "500",
    knativeerrordata: ERROR_DATA,
    attempts: 3,
    at: 1_700_000_000_000,
    error: "line one\nline two — ünïcode",
  };
}

const ids = (entries: Array<{ event: { attributes: Record<string, unknown> } }>) =>
  entries.map((e) => String(e.event.attributes["id"]));

describe.skipIf(!url)("the dead-letter store on a RabbitMQ stream", () => {
  it("round-trips per namespace, pages by entryId, and bounds each namespace", async () => {
    const queue = stream("deadletters");
    const a = deadLetters(queue);
    const first = record("e-1");
    expect(await a.add("one", first, 3)).toBe(0);
    expect(await a.add("two", record("other"), 3)).toBe(0);
    for (const id of ["e-2", "e-3"]) expect(await a.add("one", record(id), 3)).toBe(0);
    // The fourth entry of a store of three pushes the oldest out, and says so.
    expect(await a.add("one", record("e-4"), 3)).toBe(1);

    // Another process, started after the writes, reads the same from the stream.
    const b = deadLetters(queue);
    const listed = await b.list("one", undefined, 10);
    expect(ids(listed)).toEqual(["e-2", "e-3", "e-4"]);
    expect(ids(await b.list("two", undefined, 10))).toEqual(["other"]);
    expect(ids(await b.list("one", listed[0]!.entryId, 1))).toEqual(["e-3"]);
    const { entryId: _id, ...stored } = listed[0]!;
    expect(stored).toEqual(record("e-2"));
    const [again] = await a.list("one", undefined, 1);
    expect(again).toEqual(listed[0]);

    // Smaller store size: the next add pushes out down to it.
    expect(await b.add("one", record("e-5"), 2)).toBe(2);
    expect(ids(await a.list("one", undefined, 10))).toEqual(["e-4", "e-5"]);
    // Pushed-out entries are tombstoned: a fresh reader does not see them, nor can remove them.
    const c = deadLetters(queue);
    expect(ids(await c.list("one", undefined, 10))).toEqual(["e-4", "e-5"]);
    expect(await c.remove("one", listed[0]!.entryId)).toBe(false);
    expect(await liveDeadLetters(url!, queue, "one")).toBe(2);
  });

  it("keeps the error context and a large binary event byte for byte", async () => {
    const queue = stream("deadletters");
    const a = deadLetters(queue);
    const data = randomBytes(2 * 1024 * 1024);
    const kept = record("bin", data);
    await a.add("bin", kept, 3);
    const [entry] = await deadLetters(queue).list("bin", undefined, 10);
    const { entryId: _id, event, ...context } = entry!;
    const { event: keptEvent, ...keptContext } = kept;
    expect(context).toEqual(keptContext);
    expect(event.attributes).toEqual(keptEvent.attributes);
    expect(event.data!.equals(data)).toBe(true);
  });

  it("of two processes removing one entry at once, exactly one hears true; both then list none", async () => {
    const queue = stream("deadletters");
    const a = deadLetters(queue);
    const b = deadLetters(queue);
    await a.add("race", record("r-1"), 10);
    const [entry] = await b.list("race", undefined, 10);
    const answers = await Promise.all([
      a.remove("race", entry!.entryId),
      b.remove("race", entry!.entryId),
    ]);
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await a.list("race", undefined, 10)).toEqual([]);
    expect(await b.list("race", undefined, 10)).toEqual([]);
    expect(await liveDeadLetters(url!, queue, "race")).toBe(0);
    expect(await a.remove("race", "not-an-offset")).toBe(false);
  });

  it("starts again on a stream deleted under it: the old entries go, new ones are kept", async () => {
    const queue = stream("deadletters");
    const store = deadLetters(queue);
    expect(await store.add("one", record("before"), 10)).toBe(0);
    expect(ids(await store.list("one", undefined, 10))).toEqual(["before"]);

    const model = await connect(url!);
    const channel = await model.createChannel();
    await channel.deleteQueue(queue);
    await model.close();

    // The reader's consumer is cancelled; the next add declares the stream anew.
    const deadline = Date.now() + 20_000;
    let listed: string[] = [];
    while (Date.now() < deadline) {
      await store.add("one", record(`after-${Date.now()}`), 10).catch(() => undefined);
      listed = ids(await store.list("one", undefined, 10).catch(() => []));
      if (listed.some((id) => id.startsWith("after-"))) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(listed).not.toContain("before");
    expect(listed.some((id) => id.startsWith("after-"))).toBe(true);
    expect(await messagesIn(queue, "entry")).toBeGreaterThan(0);
  }, 40_000);
});
