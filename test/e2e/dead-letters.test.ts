import { randomBytes } from "node:crypto";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterJson } from "../../src/operations/dead-letters.js";
import type { JourneyJson } from "../../src/operations/journey-json.js";
import { sumSeries } from "../support/eventail-process.js";
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

const FAST_GIVE_UP =
  "  delivery:\n    retry: 1\n    backoffPolicy: linear\n    backoffDelay: PT0.01S";

async function start(sink: RecordingSink, options: { deadLetterSize?: number } = {}) {
  const running = await startWithManifests(
    brokerYaml() + triggerYaml("fails", sink.url, "", FAST_GIVE_UP),
    options,
  );
  cleanups.push(() => running.close());
  return running;
}

async function sink(responder?: Parameters<typeof startSink>[0]) {
  const started = await startSink(responder);
  cleanups.push(() => started.close());
  return started;
}

async function send(url: string, id: string, type: string, data: Buffer, contentType: string) {
  const response = await request(`${url}/default/default`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": type,
      "content-type": contentType,
    },
    body: data,
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

async function list(url: string, namespace = "default"): Promise<DeadLetterJson[]> {
  const response = await request(`${url}/api/v1/deadletters?namespace=${namespace}`);
  const body = (await response.body.json()) as { items: DeadLetterJson[] };
  expect(response.statusCode).toBe(200);
  return body.items;
}

async function redrive(
  url: string,
  body: unknown,
): Promise<{ status: number; body: RedriveAnswer }> {
  const response = await request(`${url}/api/v1/deadletters/redrive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as RedriveAnswer };
}

interface RedriveAnswer {
  redriven?: number;
  failed?: number;
  code?: string;
}

async function metric(url: string, name: string, labels: Record<string, string>) {
  const response = await request(`${url}/metrics`);
  return sumSeries(await response.body.text(), name, labels);
}

describe("the dead-letter store on a memory broker", () => {
  it("keeps an event whose attempts ran out, with the error context, even a 1 MiB binary failure body", async () => {
    const failureBody = randomBytes(1024 * 1024);
    const subscriber = await sink(() => ({
      status: 500,
      headers: { "content-type": "application/octet-stream" },
      body: failureBody,
    }));
    const running = await start(subscriber);
    const data = randomBytes(256 * 1024);
    await send(running.url, "bin-1", "order.created", data, "application/octet-stream");
    await eventually(async () => (await list(running.url)).length === 1, 10_000, "entry");
    const items = await list(running.url);
    expect(subscriber.requests).toHaveLength(2);
    const [entry] = items;
    expect(entry).toMatchObject({
      kind: "Trigger",
      name: "fails",
      attempts: 2,
      knativeerrordest: subscriber.url,
      knativeerrorcode: "500",
      knativeerrordata: failureBody.subarray(0, 1024).toString("base64"),
      event: { id: "bin-1", type: "order.created", source: "/test" },
    });
    expect(Buffer.from(String(entry!.event["data_base64"]), "base64").equals(data)).toBe(true);
    expect(Number.isNaN(Date.parse(entry!.at))).toBe(false);
    expect(await metric(running.url, "eventail_dead_letters_total", { namespace: "default" })).toBe(
      1,
    );
    expect(
      await metric(running.url, "eventail_dropped_events_total", { namespace: "default" }),
    ).toBe(0);
    const journey = await request(`${running.url}/api/v1/events/default/bin-1`);
    const body = (await journey.body.json()) as JourneyJson;
    expect(body.routes).toMatchObject([
      { kind: "Trigger", name: "fails", outcome: "dead-lettered", sink: "eventail:store" },
    ]);
  });

  it("redrives to the now-healthy subscriber: delivered, removed, counted; filter and entryIds select", async () => {
    let healthy = false;
    const subscriber = await sink(() => ({ status: healthy ? 202 : 503 }));
    const running = await start(subscriber);
    const json = (n: number) => Buffer.from(JSON.stringify({ n }));
    await send(running.url, "a-1", "order.created", json(1), "application/json");
    await send(running.url, "b-1", "order.cancelled", json(2), "application/json");
    await send(running.url, "a-2", "order.created", json(3), "application/json");
    await eventually(async () => (await list(running.url)).length === 3, 10_000, "3 entries");

    // Still failing: nothing is removed, and each failure is counted.
    expect(await redrive(running.url, { namespace: "default", filter: "id = 'a-1'" })).toEqual({
      status: 200,
      body: { redriven: 0, failed: 1 },
    });
    expect(await list(running.url)).toHaveLength(3);

    healthy = true;
    const before = subscriber.requests.length;
    const created = await redrive(running.url, {
      namespace: "default",
      filter: "type = 'order.created' AND knativeerrorcode = '503'",
    });
    expect(created).toEqual({ status: 200, body: { redriven: 2, failed: 0 } });
    const redriven = subscriber.requests.slice(before).map((r) => r.event?.attributes["id"]);
    expect(redriven.sort()).toEqual(["a-1", "a-2"]);
    const delivered = subscriber.requests
      .slice(before)
      .find((r) => r.event?.attributes["id"] === "a-2");
    expect(delivered!.body.toString()).toBe('{"n":3}');
    expect(delivered!.event!.attributes["knativeerrorcode"]).toBeUndefined();
    const left = await list(running.url);
    expect(left.map((e) => e.event["id"])).toEqual(["b-1"]);

    expect(
      await redrive(running.url, { namespace: "default", entryIds: [left[0]!.entryId] }),
    ).toEqual({ status: 200, body: { redriven: 1, failed: 0 } });
    expect(await list(running.url)).toEqual([]);
    const journey = await request(`${running.url}/api/v1/events/default/b-1`);
    // The redrive's own attempt is reported: it is what tells a reader meeting both reports
    // (two partitions, a backfill) that the delivery came after the dead letter.
    expect(((await journey.body.json()) as JourneyJson).routes[0]).toMatchObject({
      outcome: "delivered",
      attempts: [{ status: 202 }],
    });
  });

  it("keeps an event whose dead-letter sink failed too, naming the subscriber that failed", async () => {
    const subscriber = await sink(() => ({ status: 404 }));
    const deadLetterSink = await sink(() => ({ status: 500 }));
    const running = await startWithManifests(
      brokerYaml() +
        triggerYaml(
          "fails",
          subscriber.url,
          "",
          `${FAST_GIVE_UP}\n    deadLetterSink:\n      uri: ${deadLetterSink.url}`,
        ),
    );
    cleanups.push(() => running.close());
    await send(running.url, "dls-1", "t", Buffer.from("{}"), "application/json");
    await eventually(async () => (await list(running.url)).length === 1, 20_000, "entry");
    // The dead-letter sink gets 3 retries of its own (4 attempts) before the store takes it.
    expect(deadLetterSink.requests).toHaveLength(4);
    expect((await list(running.url))[0]).toMatchObject({
      knativeerrordest: subscriber.url,
      knativeerrorcode: "404",
      attempts: 2,
      error: `the dead-letter sink ${deadLetterSink.url} failed too`,
    });
  });

  it("keeps --dead-letter-size entries per namespace and counts the ones pushed out", async () => {
    const subscriber = await sink(() => ({ status: 500 }));
    const running = await start(subscriber, { deadLetterSize: 2 });
    for (const id of ["1", "2", "3"]) {
      await send(running.url, id, "t", Buffer.from("{}"), "application/json");
      await eventually(() => subscriber.requests.length === Number(id) * 2, 10_000, `event ${id}`);
    }
    await eventually(
      async () => (await metric(running.url, "eventail_dead_letters_total", {})) === 3,
      10_000,
      "three dead letters",
    );
    expect((await list(running.url)).map((e) => e.event["id"])).toEqual(["2", "3"]);
    expect(
      await metric(running.url, "eventail_dropped_events_total", {
        namespace: "default",
        reason: "dead-letter-store-full",
      }),
    ).toBe(1);
  });

  it("refuses a filter that is not CESQL, a missing namespace, and a fromBroker it cannot read", async () => {
    const running = await start(await sink());
    const bad = await redrive(running.url, { namespace: "default", filter: "type = = 'x'" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("INVALID_FILTER");
    expect((await redrive(running.url, { filter: "true" })).status).toBe(400);
    const listing = await request(`${running.url}/api/v1/deadletters`);
    await listing.body.dump();
    expect(listing.statusCode).toBe(400);
    const unknown = await redrive(running.url, { namespace: "default", fromBroker: "default/dls" });
    expect(unknown.status).toBe(404);
    // The default broker has no eventail.io/retention: it keeps nothing to redrive.
    const kept = await redrive(running.url, {
      namespace: "default",
      fromBroker: "default/default",
    });
    expect(kept.status).toBe(400);
    expect((await redrive(running.url, { namespace: "default", fromBroker: "dls" })).status).toBe(
      400,
    );
    const withIds = await redrive(running.url, {
      namespace: "default",
      fromBroker: "default/default",
      entryIds: ["1"],
    });
    expect(withIds.status).toBe(400);
  });
});

describe("redrive from a dead-letter broker with retention (fromBroker)", () => {
  it("sends each archived dead letter back to its knativeerrordest, once the subscriber heals", async () => {
    let healthy = false;
    const subscriber = await sink(() => ({ status: healthy ? 202 : 500 }));
    const other = await sink(() => ({ status: 500 }));
    const toBroker = (name: string) =>
      `${FAST_GIVE_UP}\n    deadLetterSink:\n      ref:\n        apiVersion: eventing.knative.dev/v1\n        kind: Broker\n        name: ${name}`;
    const running = await startWithManifests(
      brokerYaml() +
        "---\n" +
        brokerYaml("dls", "  annotations:\n    eventail.io/retention: PT1H") +
        triggerYaml(
          "fails",
          subscriber.url,
          "  filter:\n    attributes:\n      type: order",
          toBroker("dls"),
        ) +
        triggerYaml(
          "other",
          other.url,
          "  filter:\n    attributes:\n      type: other",
          toBroker("dls"),
        ),
    );
    cleanups.push(() => running.close());
    const json = Buffer.from("{}");
    await send(running.url, "o-1", "order", json, "application/json");
    await send(running.url, "o-2", "order", json, "application/json");
    await send(running.url, "x-1", "other", json, "application/json");
    // Dead-lettered into the dls broker, not the store.
    await eventually(
      async () => subscriber.requests.length === 4 && other.requests.length === 2,
      10_000,
      "every attempt",
    );
    // Something published to the dls broker that is no dead letter has nowhere to go back to.
    const plain = await request(`${running.url}/default/dls`, {
      method: "POST",
      headers: { "ce-specversion": "1.0", "ce-id": "plain", "ce-source": "/test", "ce-type": "t" },
    });
    await plain.body.dump();
    expect(plain.statusCode).toBe(202);

    const still = await redrive(running.url, {
      namespace: "default",
      fromBroker: "default/dls",
      filter: `knativeerrordest = '${subscriber.url}'`,
    });
    expect(still.body).toEqual({ redriven: 0, failed: 2 });
    expect(subscriber.requests).toHaveLength(6);

    healthy = true;
    const healed = await redrive(running.url, {
      namespace: "default",
      fromBroker: "default/dls",
      filter: `knativeerrordest = '${subscriber.url}'`,
    });
    expect(healed.status).toBe(200);
    expect(healed.body).toEqual({ redriven: 2, failed: 0 });
    const redriven = subscriber.events.slice(6);
    expect(redriven.map((e) => e.attributes["id"]).sort()).toEqual(["o-1", "o-2"]);
    for (const event of redriven) {
      expect(event.attributes["knativeerrordest"]).toBeUndefined();
      expect(event.attributes["knativeerrorcode"]).toBeUndefined();
    }
    // Without a filter every dead letter goes back to its own destination; the plain event is left.
    const all = await redrive(running.url, { namespace: "default", fromBroker: "default/dls" });
    expect(all.body).toEqual({ redriven: 2, failed: 1 });
    expect(other.events.slice(2).map((e) => e.attributes["id"])).toEqual(["x-1"]);
    expect(await list(running.url)).toEqual([]);

    // Anyone who may send to the dls broker can name any knativeerrordest: a URL no Trigger of
    // the namespace delivers to is never posted to, and counts as failed.
    const elsewhere = await sink(() => ({ status: 202 }));
    const planted = await request(`${running.url}/default/dls`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "planted",
        "ce-source": "/test",
        "ce-type": "order",
        "ce-knativeerrordest": `${elsewhere.url}/internal`,
      },
    });
    await planted.body.dump();
    expect(planted.statusCode).toBe(202);
    const refused = await redrive(running.url, {
      namespace: "default",
      fromBroker: "default/dls",
      filter: "id = 'planted'",
    });
    expect(refused.body).toEqual({ redriven: 0, failed: 1 });
    expect(elsewhere.requests).toHaveLength(0);
  });
});
