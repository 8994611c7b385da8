import { randomBytes, randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterRecord } from "../../../src/backing/dead-letter.js";
import type { KafkaBacking } from "../../../src/backing/kafka/index.js";
import { serviceUrl } from "../../support/services.js";
import { kafkaBacking } from "./kafka-fixtures.js";

const brokers = serviceUrl("kafka");

const backings: KafkaBacking[] = [];
afterEach(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
});

/** A backing on a dead-letter topic of this test's own (`<prefix>.deadletters`). */
async function backing(prefix: string): Promise<KafkaBacking> {
  const made = (await kafkaBacking(brokers!, { "name.prefix": prefix })) as KafkaBacking;
  backings.push(made);
  return made;
}

function record(id: string, data?: Buffer): DeadLetterRecord {
  return {
    event: {
      attributes: { specversion: "1.0", id, source: "/test", type: "order.created" },
      ...(data === undefined ? {} : { data }),
    },
    kind: "Subscription",
    name: "fails",
    knativeerrordest: "http://127.0.0.1:1/",
    attempts: 2,
    at: 1_700_000_000_000,
    error: "connect ECONNREFUSED",
  };
}

const ids = (entries: Array<{ event: { attributes: Record<string, unknown> } }>) =>
  entries.map((e) => String(e.event.attributes["id"]));

describe.skipIf(!brokers)("the dead-letter store on a Kafka topic", () => {
  it("round-trips binary events per namespace, pages by entryId, and bounds each namespace", async () => {
    const prefix = `dltest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const data = randomBytes(64 * 1024);
    expect(await a.deadLetters.add("one", record("bin", data), 3)).toBe(0);
    expect(await a.deadLetters.add("two", record("other"), 3)).toBe(0);
    for (const id of ["e-1", "e-2"]) expect(await a.deadLetters.add("one", record(id), 3)).toBe(0);
    // The fourth entry of a store of three pushes the oldest out, and says so.
    expect(await a.deadLetters.add("one", record("e-3"), 3)).toBe(1);

    // Another process, started after the writes, reads the same from the topic.
    const b = await backing(prefix);
    const listed = await b.deadLetters.list("one", undefined, 10);
    expect(ids(listed)).toEqual(["e-1", "e-2", "e-3"]);
    expect(ids(await b.deadLetters.list("two", undefined, 10))).toEqual(["other"]);
    expect(ids(await b.deadLetters.list("one", listed[0]!.entryId, 1))).toEqual(["e-2"]);
    const { entryId: _id, ...first } = listed[0]!;
    expect(first).toEqual(record("e-1"));

    // Smaller store size: the next add pushes out down to it.
    expect(await b.deadLetters.add("one", record("e-4"), 2)).toBe(2);
    expect(ids(await a.deadLetters.list("one", undefined, 10))).toEqual(["e-3", "e-4"]);
    // Pushed-out entries are tombstoned: a fresh reader does not see them, nor can remove them.
    const c = (await backing(prefix)).deadLetters;
    expect(ids(await c.list("one", undefined, 10))).toEqual(["e-3", "e-4"]);
    expect(await c.remove("one", listed[0]!.entryId)).toBe(false);
  }, 60_000);

  it("a binary event comes back byte for byte", async () => {
    const prefix = `dltest-${randomUUID().slice(0, 8)}`;
    const a = await backing(prefix);
    const data = randomBytes(64 * 1024);
    await a.deadLetters.add("bin", record("bin", data), 3);
    const [entry] = await (await backing(prefix)).deadLetters.list("bin", undefined, 10);
    expect(entry!.event.data!.equals(data)).toBe(true);
    expect(await a.deadLetters.remove("bin", entry!.entryId)).toBe(true);
    expect(await a.deadLetters.list("bin", undefined, 10)).toEqual([]);
  }, 60_000);
});
