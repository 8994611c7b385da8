import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import {
  deadLetterManifests,
  listDeadLetters,
  redriveDeadLetters,
  sendOrder,
} from "../support/dead-letters.js";
import { serviceUrl } from "../support/services.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

const KAFKA = serviceUrl("kafka");

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A name prefix of its own per test, so its dead-letter topic starts empty. */
function manifests(prefix: string, subscriber: RecordingSink): string {
  return deadLetterManifests(
    "shop",
    `  backing: kafka\n  bootstrap.servers: "${KAFKA}"\n  name.prefix: ${prefix}\n  session.timeout.ms: "3000"\n  heartbeat.interval.ms: "1000"\n  rebalance.timeout.ms: "10000"`,
    subscriber.url,
    "    retry: 0",
  );
}

const send = (url: string, id: string) =>
  sendOrder(url, "shop", id, Buffer.from(JSON.stringify({ id })), "application/json");
const list = (url: string) => listDeadLetters(url, "shop");
const redrive = redriveDeadLetters;

/** The event ids a list holds, each once, sorted. */
const idsOf = (entries: Array<{ event: Record<string, unknown> }>) =>
  [...new Set(entries.map((e) => String(e.event["id"])))].sort();

describe.skipIf(!KAFKA)("the dead-letter store on Kafka", () => {
  it("a scale-out lists one store, a redrive's removals are seen by the other process, and a restart reads what is left", async () => {
    const subscriber = await startSink(() => ({ status: 500 }));
    cleanups.push(() => subscriber.close());
    const yaml = manifests(`dl-${randomUUID().slice(0, 8)}`, subscriber);
    const a = await startWithManifests(yaml);
    let aClosed = false;
    cleanups.push(async () => {
      if (!aClosed) await a.close();
    });
    const b = await startWithManifests(yaml);
    cleanups.push(() => b.close());
    const ids = ["o-1", "o-2", "o-3"];
    for (const id of ids) await send(a.url, id);
    // Whichever process consumed each event, both list all three from the topic. Delivery is at
    // least once: a rebalance before an offset commit lands (the mock cluster rebalances often
    // under load) delivers an event again, and each failed delivery is an entry of its own.
    for (const [name, process] of [
      ["a", a],
      ["b", b],
    ] as const) {
      let seen: string[] = [];
      await eventually(
        async () => {
          seen = idsOf(await list(process.url));
          return seen.length === ids.length;
        },
        60_000,
        `process ${name} to list every event`,
      ).catch((error: Error) => {
        const got = subscriber.requests.map((r) => String(r.headers["ce-id"]));
        throw new Error(`${error.message}: it lists [${seen}], the subscriber got [${got}]`);
      });
    }
    const entries = await list(b.url);
    expect(idsOf(entries)).toEqual(ids);
    expect(entries[0]).toMatchObject({ kind: "Trigger", name: "fails", knativeerrorcode: "500" });

    subscriber.respondWith(() => ({ status: 202 }));
    const twos = entries.filter((e) => e.event["id"] === "o-2").map((e) => e.entryId);
    expect(await redrive(b.url, { namespace: "shop", entryIds: twos })).toEqual({
      redriven: twos.length,
      failed: 0,
    });
    // The removal is a tombstone on the topic: process A's index drops the entry too.
    expect(idsOf(await list(a.url))).toEqual(["o-1", "o-3"]);
    // A second redrive of the same entries finds nothing left to deliver.
    expect(await redrive(a.url, { namespace: "shop", entryIds: twos })).toEqual({
      redriven: 0,
      failed: 0,
    });

    aClosed = true;
    await a.close();
    const c = await startWithManifests(yaml);
    cleanups.push(() => c.close());
    expect(idsOf(await list(c.url))).toEqual(["o-1", "o-3"]);
  }, 120_000);
});
