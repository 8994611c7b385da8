import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { deadLetterKey } from "../../src/backing/redis/dead-letter-store.js";
import {
  deadLetterManifests,
  listDeadLetters,
  redriveDeadLetters,
  sendOrder,
} from "../support/dead-letters.js";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

const REDIS_URL = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stopEventailProcesses();
});

/** A namespace of its own: the store is shared by everything using this Redis. */
function namespace(): string {
  const ns = `dl-${randomUUID().slice(0, 8)}`;
  cleanups.push(async () => {
    const redis = new Redis(REDIS_URL);
    await redis.del(deadLetterKey(ns));
    redis.disconnect();
  });
  return ns;
}

function manifests(ns: string, subscriber: RecordingSink, delivery: string): string {
  return deadLetterManifests(ns, `  backing: redis\n  url: ${REDIS_URL}`, subscriber.url, delivery);
}

const send = sendOrder;
const list = listDeadLetters;
const redrive = redriveDeadLetters;

describe("the dead-letter store on Redis", () => {
  it("keeps a large binary event with its error context on the engine, where another process sees it", async () => {
    const ns = namespace();
    const failureBody = randomBytes(1024 * 1024);
    const subscriber = await startSink(() => ({ status: 500, body: failureBody }));
    cleanups.push(() => subscriber.close());
    const yaml = manifests(ns, subscriber, "    retry: 0");
    const first = await startWithManifests(yaml);
    cleanups.push(() => first.close());
    const data = randomBytes(512 * 1024);
    await send(first.url, ns, "bin-1", data, "application/octet-stream");
    await eventually(async () => (await list(first.url, ns)).length === 1, 15_000, "the entry");

    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => redis.disconnect());
    expect(await redis.xlen(deadLetterKey(ns))).toBe(1);

    const second = await startWithManifests(yaml);
    cleanups.push(() => second.close());
    const [entry] = await list(second.url, ns);
    expect(entry).toMatchObject({
      kind: "Trigger",
      name: "fails",
      attempts: 1,
      knativeerrordest: subscriber.url,
      knativeerrorcode: "500",
      knativeerrordata: failureBody.subarray(0, 1024).toString("base64"),
      event: { id: "bin-1" },
    });
    expect(Buffer.from(String(entry!.event["data_base64"]), "base64").equals(data)).toBe(true);

    subscriber.respondWith(() => ({ status: 202 }));
    expect(await redrive(second.url, { namespace: ns })).toEqual({ redriven: 1, failed: 0 });
    expect(subscriber.events.at(-1)!.data!.equals(data)).toBe(true);
    expect(await redis.xlen(deadLetterKey(ns))).toBe(0);
  });

  it.skipIf(!eventailBuilt())(
    "a redrive cut short by kill -9 loses nothing: the next redrive takes the rest",
    async () => {
      const ns = namespace();
      const total = 20;
      const deliveredBeforeKill = 5;
      let phase: "failing" | "partly" | "healthy" = "failing";
      let accepted = 0;
      const subscriber = await startSink(() => {
        if (phase === "failing") return { status: 503 };
        if (phase === "healthy") return { status: 202 };
        // The first few redrives succeed, the others hang until the process is killed.
        return accepted++ < deliveredBeforeKill ? { status: 202 } : { hang: true };
      });
      cleanups.push(() => subscriber.close());
      const dir = mkdtempSync(path.join(tmpdir(), "eventail-deadletters-"));
      writeFileSync(
        path.join(dir, "manifests.yaml"),
        manifests(ns, subscriber, "    retry: 0\n    timeout: PT60S"),
      );
      const first = await EventailProcess.start("first", { manifests: [dir] });
      const ids = Array.from({ length: total }, (_, i) => `e-${i}`);
      for (const id of ids)
        await send(first.url, ns, id, Buffer.from(`{"id":"${id}"}`), "application/json");
      await eventually(async () => (await list(first.url, ns)).length === total, 20_000, "entries");

      phase = "partly";
      const cut = redrive(first.url, { namespace: ns }).catch((error: Error) => error);
      await eventually(
        async () => (await list(first.url, ns)).length === total - deliveredBeforeKill,
        20_000,
        "the first redrives removed",
      );
      // Lanes hang on the entries after those: the redrive is in the middle of its work.
      await subscriber.waitFor(total + deliveredBeforeKill + 1);
      await first.kill("SIGKILL");
      expect(await cut).toBeInstanceOf(Error);

      phase = "healthy";
      const second = await EventailProcess.start("second", { manifests: [dir] });
      const left = (await list(second.url, ns)).map((e) => String(e.event["id"]));
      expect(left).toHaveLength(total - deliveredBeforeKill);
      const deliveredIds = subscriber.requests
        .slice(total, total + deliveredBeforeKill)
        .map((r) => String(r.event?.attributes["id"]));
      expect([...left, ...deliveredIds].sort()).toEqual([...ids].sort());

      const before = subscriber.requests.length;
      expect(await redrive(second.url, { namespace: ns })).toEqual({
        redriven: total - deliveredBeforeKill,
        failed: 0,
      });
      expect(await list(second.url, ns)).toEqual([]);
      const redriven = subscriber.requests
        .slice(before)
        .map((r) => String(r.event?.attributes["id"]));
      expect(redriven.sort()).toEqual([...left].sort());
    },
    90_000,
  );

  it("a process that does not run the entry's trigger redrives it only to a given 'to'", async () => {
    const ns = namespace();
    const failing = await startSink(() => ({ status: 500 }));
    cleanups.push(() => failing.close());
    const elsewhere = await startSink();
    cleanups.push(() => elsewhere.close());
    const first = await startWithManifests(manifests(ns, failing, "    retry: 0"));
    cleanups.push(() => first.close());
    await send(first.url, ns, "o-1", Buffer.from("{}"), "application/json");
    await eventually(async () => (await list(first.url, ns)).length === 1, 15_000, "the entry");

    // Same broker and store, but another trigger: 'fails' does not run in this process.
    const other = manifests(ns, elsewhere, "    retry: 0").replace("name: fails", "name: other");
    const second = await startWithManifests(other);
    cleanups.push(() => second.close());
    expect(await list(second.url, ns)).toHaveLength(1);
    expect(await redrive(second.url, { namespace: ns })).toEqual({ redriven: 0, failed: 1 });
    expect(
      await redrive(second.url, { namespace: ns, to: { uri: `${elsewhere.url}/redriven` } }),
    ).toEqual({ redriven: 1, failed: 0 });
    const delivered = elsewhere.requests.filter((r) => r.path === "/redriven");
    expect(delivered.map((r) => r.event?.attributes["id"])).toEqual(["o-1"]);
    expect(await list(first.url, ns)).toEqual([]);
  });
});
