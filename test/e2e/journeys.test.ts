import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { traceCommand } from "../../src/cli/trace.js";
import type { JourneyJson } from "../../src/operations/journey-json.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(responder?: Parameters<typeof startSink>[0]): Promise<RecordingSink> {
  const s = await startSink(responder);
  cleanups.push(() => s.close());
  return s;
}

async function send(url: string, id: string, type: string, source = "/orders"): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": source,
      "ce-type": type,
      "content-type": "application/json",
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    },
    body: '{"n":1}',
  });
  await response.body.dump();
  return response.statusCode;
}

type Answer = JourneyJson & { code?: string; sources?: string[] };

async function journey(base: string, path: string): Promise<{ status: number; body: Answer }> {
  const response = await request(`${base}/api/v1/events/${path}`);
  return { status: response.statusCode, body: (await response.body.json()) as Answer };
}

const settled = (j: JourneyJson) =>
  j.routes.length === 3 && j.routes.every((r) => r.outcome !== "pending");

/** Three triggers: one whose type filter leaves the event out, one that takes it, one that fails into a dead-letter sink. */
async function threeTriggers(options: { journeySize?: number } = {}) {
  const ok = await sink();
  const failing = await sink(() => ({ status: 500 }));
  const dead = await sink();
  const delivery = `  delivery:
    retry: 1
    backoffDelay: PT0.01S
    deadLetterSink:
      uri: ${dead.url}
`;
  const yaml = [
    brokerYaml("orders"),
    triggerYaml(
      "other-type",
      ok.url,
      "  filter:\n    attributes:\n      type: not.this",
      "",
      "orders",
    ),
    triggerYaml("takes-all", ok.url, "", "", "orders"),
    triggerYaml("fails", failing.url, "", delivery, "orders"),
  ].join("\n");
  const running = await startWithManifests(yaml, options);
  cleanups.push(() => running.close());
  return { running, ok, failing, dead };
}

describe("journeys on a memory broker", () => {
  it("show every trigger's outcome: filtered-out, delivered, dead-lettered after its attempts", async () => {
    const { running, dead } = await threeTriggers();
    expect(await send(`${running.url}/default/orders`, "order-1", "order.created")).toBe(202);
    await eventually(() => dead.requests.length === 1, 10_000, "the dead letter");
    let found: JourneyJson | undefined;
    await eventually(
      async () => {
        const answer = await journey(running.url, "default/order-1");
        found = answer.status === 200 ? answer.body : undefined;
        return found !== undefined && settled(found);
      },
      10_000,
      "a settled journey",
    );
    expect(found).toMatchObject({
      id: "order-1",
      source: "/orders",
      namespace: "default",
      accepted: {
        address: `${running.url}/default/orders`,
        size: 7,
        traceId: "0af7651916cd43dd8448eb211c80319c",
      },
    });
    const byName = Object.fromEntries(found!.routes.map((r) => [r.name, r]));
    expect(byName["other-type"]).toMatchObject({
      kind: "Trigger",
      outcome: "filtered-out",
      attempts: [],
    });
    expect(byName["takes-all"]).toMatchObject({
      outcome: "delivered",
      attempts: [{ status: 202 }],
    });
    expect(byName["fails"]).toMatchObject({
      outcome: "dead-lettered",
      sink: dead.url,
      attempts: [{ status: 500 }, { status: 500 }],
    });
    for (const attempt of byName["fails"]!.attempts) {
      expect(Date.parse(attempt.at)).toBeGreaterThanOrEqual(Date.parse(found!.accepted.at!));
    }
  });

  it.each([
    ["an unknown id answers 404", "default/never-sent", 404, "NOT_FOUND"],
    ["a known id in another namespace answers 404", "elsewhere/dup", 404, "NOT_FOUND"],
    [
      "an id seen with two sources and no ?source answers 409",
      "default/dup",
      409,
      "AMBIGUOUS_EVENT_ID",
    ],
  ])("%s", async (_name, path, status, code) => {
    const { running } = await threeTriggers();
    expect(await send(`${running.url}/default/orders`, "dup", "order.created", "/a")).toBe(202);
    expect(await send(`${running.url}/default/orders`, "dup", "order.created", "/b")).toBe(202);
    const answer = await journey(running.url, path);
    expect(answer.status).toBe(status);
    expect(answer.body.code).toBe(code);
    if (status === 409) expect(answer.body.sources).toEqual(["/a", "/b"]);
  });

  it("?source picks one of the sources an id came with", async () => {
    const { running } = await threeTriggers();
    await send(`${running.url}/default/orders`, "dup", "order.created", "/a");
    await send(`${running.url}/default/orders`, "dup", "order.created", "/b");
    const answer = await journey(running.url, "default/dup?source=%2Fb");
    expect(answer.status).toBe(200);
    expect(answer.body.source).toBe("/b");
  });

  it("keeps nothing with --journey-size 0", async () => {
    const { running, ok } = await threeTriggers({ journeySize: 0 });
    await send(`${running.url}/default/orders`, "off-1", "order.created");
    await eventually(() => ok.requests.length === 1, 10_000, "the delivery");
    expect((await journey(running.url, "default/off-1")).status).toBe(404);
  });

  it("eventail trace prints the timeline from a real server", async () => {
    const { running, dead } = await threeTriggers();
    await send(`${running.url}/default/orders`, "order-2", "order.created");
    await eventually(() => dead.requests.length === 1, 10_000, "the dead letter");
    await eventually(async () => {
      const answer = await journey(running.url, "default/order-2");
      return answer.status === 200 && settled(answer.body);
    });
    let out = "";
    let err = "";
    const code = await traceCommand(
      "order-2",
      { namespace: "default", server: running.url },
      { write: (t: string) => (out += t) },
      { write: (t: string) => (err += t) },
    );
    expect(err).toBe("");
    expect(code).toBe(0);
    const lines = out.split("\n");
    expect(lines[0]).toBe("event order-2 from /orders (namespace default)");
    expect(lines[1]).toContain(
      `accepted at ${running.url}/default/orders (7 bytes, trace 0af7651916cd43dd8448eb211c80319c)`,
    );
    expect(out).toContain(`Trigger fails: dead-lettered (to ${dead.url})`);
    expect(out).toMatch(/\+\d+(ms|\.\d{3}s) +attempt 1: HTTP 500 in \d+ms\n.*attempt 2: HTTP 500/);
    expect(out).toContain("Trigger other-type: filtered-out");
    expect(out).toMatch(/Trigger takes-all: delivered\n +\+\S+ +attempt 1: HTTP 202/);
  });

  it("a trigger whose reply the broker refuses (TTL used up) says the reply was dropped", async () => {
    const subscriber = await sink(() => ({
      status: 200,
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "answer-1",
        "ce-source": "/subscriber",
        "ce-type": "order.answered",
      },
    }));
    const running = await startWithManifests(
      `${brokerYaml("default")}${triggerYaml("answers", subscriber.url)}`,
    );
    cleanups.push(() => running.close());
    // TTL 1: stored with 0, so the reply, which carries its event's TTL, has no hop left.
    const response = await request(`${running.url}/default/default`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "last-hop",
        "ce-source": "/orders",
        "ce-type": "order.created",
        "ce-knativebrokerttl": "1",
      },
    });
    await response.body.dump();
    expect(response.statusCode).toBe(202);
    await eventually(
      async () => {
        const answer = await journey(running.url, "default/last-hop");
        return answer.status === 200 && answer.body.routes[0]?.reason !== undefined;
      },
      20_000,
      "the dropped reply reported",
    );
    const { body } = await journey(running.url, "default/last-hop");
    expect(body.routes).toEqual([
      {
        kind: "Trigger",
        name: "answers",
        outcome: "replied",
        attempts: [expect.objectContaining({ status: 200 })],
        replyId: "answer-1",
        reason: expect.stringContaining("the reply was dropped"),
      },
    ]);
    // The reply was never accepted: it has no journey of its own.
    expect((await journey(running.url, "default/answer-1")).status).toBe(404);
  });

  it("eventail trace lists each source to ask again with when an id has two", async () => {
    const { running } = await threeTriggers();
    expect(await send(`${running.url}/default/orders`, "twice", "order.created", "/a")).toBe(202);
    expect(await send(`${running.url}/default/orders`, "twice", "order.created", "/b")).toBe(202);
    await eventually(async () => (await journey(running.url, "default/twice")).status === 409);
    let err = "";
    const code = await traceCommand(
      "twice",
      { namespace: "default", server: running.url },
      { write: () => true },
      { write: (t: string) => (err += t) },
    );
    expect(code).toBe(1);
    expect(err.split("\n")).toEqual(expect.arrayContaining(["  --source /a", "  --source /b"]));
  });

  it.each([
    ["an unknown id", "nope", {}, 'no journey of event "nope"'],
    [
      "an unreachable server",
      "x",
      { server: "http://127.0.0.1:1" },
      "cannot reach the server at http://127.0.0.1:1",
    ],
  ])("eventail trace exits 1 with one line for %s", async (_name, id, extra, message) => {
    const { running } = await threeTriggers();
    let err = "";
    const code = await traceCommand(
      id,
      { namespace: "default", server: running.url, ...extra },
      { write: () => true },
      { write: (t: string) => (err += t) },
    );
    expect(code).toBe(1);
    expect(err).toContain(message);
  });
});
