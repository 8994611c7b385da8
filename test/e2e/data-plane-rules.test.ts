import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

/**
 * The data-plane rules of Knative's broker, over real sockets: a reply the broker cannot store
 * fails the delivery it answers, which is retried; each matching trigger delivers, even two with
 * one subscriber; the broker never changes `data`, whatever the ingress mode.
 */

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(): Promise<RecordingSink> {
  const s = await startSink();
  cleanups.push(() => s.close());
  return s;
}

async function eventail(yaml: string) {
  const running = await startWithManifests(yaml);
  cleanups.push(() => running.close());
  return running;
}

async function post(url: string, headers: Record<string, string>, body: string | Buffer) {
  const response = await request(url, { method: "POST", headers, body });
  await response.body.dump();
  return response.statusCode;
}

const binary = (id: string, type: string, contentType = "application/json") => ({
  "ce-specversion": "1.0",
  "ce-id": id,
  "ce-source": "/rules",
  "ce-type": type,
  "content-type": contentType,
});

/** A subscriber that holds requests until released; then `answer` says what to send back. */
async function gatedSubscriber(answer: (id: string) => { headers: Record<string, string> }) {
  const held: Array<{ id: string; res: http.ServerResponse }> = [];
  const received: string[] = [];
  let open = false;
  const respond = (id: string, res: http.ServerResponse) => {
    const { headers } = answer(id);
    res.writeHead(200, headers).end("{}");
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["ce-id"]);
      received.push(id);
      if (open) respond(id, res);
      else held.push({ id, res });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        for (const { res } of held.splice(0)) res.writeHead(202).end();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    release() {
      open = true;
      for (const { id, res } of held.splice(0)) respond(id, res);
    },
  };
}

describe("a reply the broker cannot store fails the delivery it answers", () => {
  it("the original is delivered again until its reply is stored, and the reply then arrives once", async () => {
    const noReply = () => ({ headers: {} });
    // The filler's subscriber takes one event and holds it; the next filler then waits in the
    // broker's stream, which a cap of 1 makes full.
    const blocker = await gatedSubscriber(noReply);
    const replier = await gatedSubscriber((id) => ({
      headers: {
        ...binary(`reply-to-${id}`, "dev.rules.reply"),
        "content-type": "application/json",
      },
    }));
    const replies = await sink();
    const exact = (type: string) => `  filters:\n    - exact: {type: ${type}}`;
    const running = await eventail(
      brokerYaml("capped", '  annotations:\n    eventail.io/memory.max-events: "1"') +
        triggerYaml("blocker", blocker.url, exact("dev.rules.filler"), "", "capped", {
          "eventail.io/delivery.concurrency": "1",
        }) +
        triggerYaml("replier", replier.url, exact("dev.rules.original"), "", "capped") +
        triggerYaml("replies", replies.url, exact("dev.rules.reply"), "", "capped"),
    );
    const ingress = `${running.url}/default/capped`;

    expect(await post(ingress, binary("f0", "dev.rules.filler"), "{}")).toBe(202);
    await eventually(() => blocker.received.length === 1, 10_000, "f0 at the blocker");
    expect(await post(ingress, binary("o1", "dev.rules.original"), "{}")).toBe(202);
    await eventually(() => replier.received.length === 1, 10_000, "o1 at the replier");
    expect(await post(ingress, binary("f1", "dev.rules.filler"), "{}")).toBe(202);
    // The stream now holds f1: it is full, so the reply to o1 cannot be stored.
    expect(await post(ingress, binary("probe", "dev.rules.filler"), "{}")).toBe(429);

    replier.release();
    await eventually(
      () => replier.received.filter((id) => id === "o1").length >= 3,
      20_000,
      "o1 delivered again after its reply was refused",
    );
    expect(replies.requests).toEqual([]);

    blocker.release();
    const [stored] = await replies.waitFor(1, 30_000);
    expect(stored!.event!.attributes["id"]).toBe("reply-to-o1");
    await sleep(300);
    expect(replies.events.map((e) => e.attributes["id"])).toEqual(["reply-to-o1"]);
  });
});

describe("every matching trigger delivers", () => {
  it("two triggers with the same subscriber deliver the event twice", async () => {
    const subscriber = await sink();
    const running = await eventail(
      brokerYaml() +
        triggerYaml("first", subscriber.url) +
        triggerYaml("second", subscriber.url, "  filters:\n    - exact: {type: dev.rules.twice}"),
    );
    expect(
      await post(`${running.url}/default/default`, binary("t1", "dev.rules.twice"), "{}"),
    ).toBe(202);
    await subscriber.waitFor(2);
    await sleep(300);
    expect(subscriber.events.map((e) => e.attributes["id"])).toEqual(["t1", "t1"]);
  });
});

const NOT_UTF8 = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28, 0x0a, 0xed, 0xa0, 0x80]);
const ODD_JSON = '{ "z" : 1 ,\n\t"a":[ 1.0 , 2e3 ,"\\u00e9", 12345678901234567890 ],"10":null }';

/** A case: how the event enters the broker, and the bytes the subscriber must get as data. */
interface DataCase {
  headers: Record<string, string>;
  body: string | Buffer;
  data: Buffer;
}

const STRUCTURED = { "content-type": "application/cloudevents+json" };
const context = (id: string) =>
  `"specversion":"1.0","id":"${id}","source":"/rules","type":"dev.rules.data"`;

const DATA_CASES: Array<[string, DataCase]> = [
  [
    "binary ingress, bytes that are not UTF-8",
    {
      headers: binary("d1", "dev.rules.data", "application/octet-stream"),
      body: NOT_UTF8,
      data: NOT_UTF8,
    },
  ],
  [
    "binary ingress, JSON with odd whitespace, key order and number forms",
    { headers: binary("d2", "dev.rules.data"), body: ODD_JSON, data: Buffer.from(ODD_JSON) },
  ],
  [
    "binary ingress, a JSON content type over bytes that are not JSON",
    { headers: binary("d3", "dev.rules.data"), body: "{not json", data: Buffer.from("{not json") },
  ],
  [
    "structured ingress, bytes that are not UTF-8 (data_base64)",
    {
      headers: STRUCTURED,
      body: `{${context("d4")},"datacontenttype":"application/octet-stream","data_base64":"${NOT_UTF8.toString("base64")}"}`,
      data: NOT_UTF8,
    },
  ],
  [
    "structured ingress, JSON data with odd whitespace, key order and number forms",
    {
      headers: STRUCTURED,
      body: `{${context("d5")},"datacontenttype":"application/json","data" :  ${ODD_JSON}  }`,
      data: Buffer.from(ODD_JSON),
    },
  ],
  [
    "structured ingress, JSON data with no datacontenttype, before the context attributes",
    {
      headers: STRUCTURED,
      body: `{"data":${ODD_JSON},\n${context("d6")}}`,
      data: Buffer.from(ODD_JSON),
    },
  ],
  [
    "structured ingress, a JSON string under a +json content type keeps its escapes",
    {
      headers: STRUCTURED,
      body: `{${context("d7")},"datacontenttype":"application/vnd.rules+json","data":"caf\\u00e9 \\/"}`,
      data: Buffer.from('"caf\\u00e9 \\/"'),
    },
  ],
  [
    "structured ingress, text data is the text the JSON string holds",
    {
      headers: STRUCTURED,
      body: `{${context("d8")},"datacontenttype":"text/plain","data":"caf\\u00e9\\n"}`,
      data: Buffer.from("café\n"),
    },
  ],
  [
    "batch ingress, JSON data with odd whitespace",
    {
      headers: { "content-type": "application/cloudevents-batch+json" },
      body: `[ {${context("d9")},"data":${ODD_JSON}} ]`,
      data: Buffer.from(ODD_JSON),
    },
  ],
];

describe("the broker never changes data", () => {
  it.each(DATA_CASES)("%s reaches the subscriber byte for byte", async (_name, entry) => {
    const subscriber = await sink();
    const running = await eventail(brokerYaml() + triggerYaml("all", subscriber.url));
    expect(await post(`${running.url}/default/default`, entry.headers, entry.body)).toBe(202);
    const [received] = await subscriber.waitFor(1);
    expect(received!.body.toString("hex")).toBe(entry.data.toString("hex"));
  });

  it("structured delivery (delivery.format: json) carries JSON data as it came", async () => {
    const subscriber = await sink();
    const running = await eventail(
      brokerYaml() + triggerYaml("all", subscriber.url, "", "  delivery:\n    format: json"),
    );
    expect(
      await post(`${running.url}/default/default`, binary("s1", "dev.rules.data"), ODD_JSON),
    ).toBe(202);
    const [received] = await subscriber.waitFor(1);
    expect(received!.headers["content-type"]).toMatch(/^application\/cloudevents\+json/);
    const body = received!.body.toString("utf8");
    expect(body).toContain(`"data":${ODD_JSON}`);
    expect(JSON.parse(body).id).toBe("s1");
  });
});
