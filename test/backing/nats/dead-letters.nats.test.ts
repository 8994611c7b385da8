import { randomBytes, randomUUID } from "node:crypto";
import { connect } from "nats";
import { afterEach, describe, expect, it } from "vitest";
import type { DeadLetterRecord } from "../../../src/backing/dead-letter.js";
import { deadLetterStreamName } from "../../../src/backing/nats/dead-letter-store.js";
import { NatsBacking } from "../../../src/backing/nats/nats-backing.js";
import { parseNatsSettings } from "../../../src/backing/nats/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("nats");

const backings: NatsBacking[] = [];
const namespaces: string[] = [];

function backing(): NatsBacking {
  const made = new NatsBacking(
    parseNatsSettings({ kind: "nats", settings: { url: url! } }),
    silentLogger(),
  );
  backings.push(made);
  return made;
}

function namespace(): string {
  const ns = `dl-${randomUUID().slice(0, 8)}`;
  namespaces.push(ns);
  return ns;
}

afterEach(async () => {
  await Promise.all(backings.splice(0).map((b) => b.close()));
  if (namespaces.length === 0) return;
  const nc = await connect({ servers: url! });
  const jsm = await nc.jetstreamManager();
  for (const ns of namespaces.splice(0)) {
    await jsm.streams.delete(deadLetterStreamName(ns)).catch(() => false);
  }
  await nc.close();
});

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
    attempts: 3,
    at: 1_700_000_000_000,
    error: "line one\nline two — ünïcode",
  };
}

describe.skipIf(!url)("the dead-letter store on NATS JetStream", () => {
  it("another process lists what one stored, exactly, and a removal is seen by both", async () => {
    const ns = namespace();
    const a = backing();
    const b = backing();
    const data = randomBytes(256 * 1024);
    expect(await a.deadLetters.add(ns, record("bin", data), 10)).toBe(0);
    expect(await a.deadLetters.add(ns, record("plain"), 10)).toBe(0);

    const listed = await b.deadLetters.list(ns, undefined, 100);
    expect(listed.map((e) => e.event.attributes["id"])).toEqual(["bin", "plain"]);
    const { entryId: _id, event, ...first } = listed[0]!;
    const { event: sent, ...context } = record("bin", data);
    expect(first).toEqual(context);
    expect(event.attributes).toEqual(sent.attributes);
    expect(listed[0]!.event.data!.equals(data)).toBe(true);
    // Paging: after the first entry comes only the second.
    expect((await b.deadLetters.list(ns, listed[0]!.entryId, 100)).map((e) => e.entryId)).toEqual([
      listed[1]!.entryId,
    ]);
    expect(await b.deadLetters.list(ns, undefined, 1)).toHaveLength(1);

    expect(await b.deadLetters.remove(ns, listed[0]!.entryId)).toBe(true);
    // Already gone: the second redrive of the same entry is told so.
    expect(await a.deadLetters.remove(ns, listed[0]!.entryId)).toBe(false);
    expect((await a.deadLetters.list(ns, undefined, 100)).map((e) => e.entryId)).toEqual([
      listed[1]!.entryId,
    ]);
  });

  it("keeps at most the store size, oldest pushed out and counted once across writers", async () => {
    const ns = namespace();
    const a = backing();
    const b = backing();
    const size = 5;
    // Two processes filling the same namespace at once: 30 adds into a store of 5.
    const counts = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        (i % 2 === 0 ? a : b).deadLetters.add(ns, record(`e-${i}`), size),
      ),
    );
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(30 - size);
    const left = await a.deadLetters.list(ns, undefined, 100);
    expect(left).toHaveLength(size);

    // A smaller size shrinks the store on the next add, counting each entry pushed out.
    expect(await a.deadLetters.add(ns, record("last"), 2)).toBe(size + 1 - 2);
    const now = await b.deadLetters.list(ns, undefined, 100);
    expect(now.map((e) => e.event.attributes["id"])).toEqual([
      left.at(-1)!.event.attributes["id"],
      "last",
    ]);
  });

  it("an unknown namespace lists nothing and removes nothing", async () => {
    const ns = namespace();
    const a = backing();
    expect(await a.deadLetters.list(ns, undefined, 10)).toEqual([]);
    expect(await a.deadLetters.remove(ns, "1")).toBe(false);
    expect(await a.deadLetters.remove(ns, "not-a-sequence")).toBe(false);
  });
});
