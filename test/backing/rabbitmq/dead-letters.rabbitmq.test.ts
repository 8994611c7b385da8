import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEAD_LETTER_STREAM } from "../../../src/backing/rabbitmq/dead-letter-store.js";
import {
  deadLetterManifests,
  listDeadLetters,
  redriveDeadLetters,
  sendOrder,
} from "../../support/dead-letters.js";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../../support/eventail-process.js";
import { serviceUrl } from "../../support/services.js";
import {
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
} from "../../support/sink.js";
import { liveDeadLetters } from "./stream-reader.js";

const RABBITMQ_URL = serviceUrl("rabbitmq");

/** Entries of the namespace on the engine's dead-letter stream, read by a plain client. */
const stored = (ns: string) => liveDeadLetters(RABBITMQ_URL!, DEAD_LETTER_STREAM, ns);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stopEventailProcesses();
});

/** A namespace of its own: the store is shared by everything using this RabbitMQ. */
const namespace = () => `dl-${randomUUID().slice(0, 8)}`;

function manifests(ns: string, subscriber: RecordingSink, delivery: string): string {
  return deadLetterManifests(
    ns,
    `  backing: rabbitmq\n  url: ${RABBITMQ_URL}\n  queueExpiresMs: "60000"`,
    subscriber.url,
    delivery,
  );
}

describe.skipIf(!RABBITMQ_URL)("the dead-letter store on RabbitMQ", () => {
  it("keeps a large binary event with its error context on the engine, where another process sees it", async () => {
    const ns = namespace();
    const failureBody = randomBytes(1024 * 1024);
    const subscriber = await startSink(() => ({ status: 500, body: failureBody }));
    cleanups.push(() => subscriber.close());
    const yaml = manifests(ns, subscriber, "    retry: 0");
    const first = await startWithManifests(yaml);
    let firstClosed = false;
    cleanups.push(async () => {
      if (!firstClosed) await first.close();
    });
    const data = randomBytes(512 * 1024);
    await sendOrder(first.url, ns, "bin-1", data, "application/octet-stream");
    await eventually(
      async () => (await listDeadLetters(first.url, ns)).length === 1,
      15_000,
      "the entry",
    );

    expect(await stored(ns)).toBe(1);
    // The first process is gone before the second starts: the entry outlives it on the engine.
    firstClosed = true;
    await first.close();

    const second = await startWithManifests(yaml);
    cleanups.push(() => second.close());
    const [entry] = await listDeadLetters(second.url, ns);
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
    expect(await redriveDeadLetters(second.url, { namespace: ns })).toEqual({
      redriven: 1,
      failed: 0,
    });
    expect(subscriber.events.at(-1)!.data!.equals(data)).toBe(true);
    expect(await stored(ns)).toBe(0);
  }, 60_000);

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
      for (const id of ids) {
        await sendOrder(first.url, ns, id, Buffer.from(`{"id":"${id}"}`), "application/json");
      }
      await eventually(
        async () => (await listDeadLetters(first.url, ns)).length === total,
        20_000,
        "entries",
      );

      phase = "partly";
      const cut = redriveDeadLetters(first.url, { namespace: ns }).catch((error: Error) => error);
      await eventually(
        async () => (await listDeadLetters(first.url, ns)).length === total - deliveredBeforeKill,
        20_000,
        "the first redrives removed",
      );
      // Lanes hang on the entries after those: the redrive is in the middle of its work.
      await subscriber.waitFor(total + deliveredBeforeKill + 1);
      await first.kill("SIGKILL");
      expect(await cut).toBeInstanceOf(Error);
      expect(await stored(ns)).toBe(total - deliveredBeforeKill);

      phase = "healthy";
      const second = await EventailProcess.start("second", { manifests: [dir] });
      const left = (await listDeadLetters(second.url, ns)).map((e) => String(e.event["id"]));
      expect(left).toHaveLength(total - deliveredBeforeKill);
      const deliveredIds = subscriber.requests
        .slice(total, total + deliveredBeforeKill)
        .map((r) => String(r.event?.attributes["id"]));
      expect([...left, ...deliveredIds].sort()).toEqual([...ids].sort());

      const before = subscriber.requests.length;
      expect(await redriveDeadLetters(second.url, { namespace: ns })).toEqual({
        redriven: total - deliveredBeforeKill,
        failed: 0,
      });
      expect(await listDeadLetters(second.url, ns)).toEqual([]);
      expect(await stored(ns)).toBe(0);
      const redriven = subscriber.requests
        .slice(before)
        .map((r) => String(r.event?.attributes["id"]));
      expect(redriven.sort()).toEqual([...left].sort());
    },
    90_000,
  );
});
