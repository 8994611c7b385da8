import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import type { StoredJourney } from "../../../src/backing/journey.js";
import { RabbitConnector } from "../../../src/backing/rabbitmq/connection.js";
import { RabbitJourneyStore, TAIL_MS } from "../../../src/backing/rabbitmq/journey-store.js";
import { parseRabbitSettings } from "../../../src/backing/rabbitmq/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { accepted, delivered } from "../../support/journey-records.js";
import { serviceUrl } from "../../support/services.js";

const url = serviceUrl("rabbitmq");
const settings = parseRabbitSettings({ kind: "rabbitmq", settings: { url: url ?? "" } });
// A stream of this file's own (the store takes its name), deleted after.
const QUEUE = `eventail.test.journeys-backlog.${randomUUID().slice(0, 8)}`;
/** Tens of MB of report messages, written straight to the stream as the store writes them. */
const BACKLOG_MESSAGES = 300;
const REPORTS_PER_MESSAGE = 1_000;

const opened: Array<{ close(): Promise<void> }> = [];
function store(): RabbitJourneyStore {
  const connector = new RabbitConnector(settings, silentLogger());
  const made = new RabbitJourneyStore(connector, settings, silentLogger(), QUEUE);
  opened.push(connector, made);
  return made;
}

afterAll(async () => {
  for (const closable of opened.splice(0).reverse()) await closable.close();
  if (!url) return;
  const model = await connect(url);
  const channel = await model.createChannel();
  await channel.deleteQueue(QUEUE).catch(() => undefined);
  await model.close();
});

describe.skipIf(!url)("journeys on a RabbitMQ stream holding a large backlog", () => {
  it("a fresh process finds an event accepted a moment ago, and an old one after backfill", async () => {
    const expiresAt = Date.now() + 3_600_000;
    const reports = Array.from({ length: REPORTS_PER_MESSAGE }, (_, i) => {
      const route = { ...delivered, name: `trigger-${i % 10}` };
      const id = `event-${i}-${"x".repeat(36)}`;
      return [
        JSON.stringify(["backlog", id, "/bench/source", "r", route.kind, route.name]),
        { namespace: "backlog", id, source: "/bench/source", expiresAt, route },
      ];
    });
    const payload = Buffer.from(JSON.stringify(reports), "utf8");
    const model = await connect(url!);
    try {
      const channel = await model.createConfirmChannel();
      const backlog = async (count: number) => {
        for (let i = 0; i < count; i++) {
          channel.sendToQueue(QUEUE, payload, {
            persistent: true,
            headers: { "eventail-kind": "journeys" },
          });
        }
        await channel.waitForConfirms();
      };

      // A writer makes the stream; the old event sits amid the backlog. close() waits for the
      // confirms of what it wrote.
      const first = store();
      first.writeAccepted("journeys", "first", "/first", accepted, 3_600_000);
      await first.close();
      await backlog(BACKLOG_MESSAGES / 2);
      const oldId = `old-${randomUUID()}`;
      const old = store();
      old.writeAccepted("journeys", oldId, "/old", accepted, 3_600_000);
      old.writeRoute("journeys", oldId, "/old", delivered, 3_600_000);
      await old.close();
      await backlog(BACKLOG_MESSAGES / 2);
      // The backlog is older than the tail a lookup waits for (it was written in a burst just now).
      await sleep(TAIL_MS + 2_000);

      const newId = `new-${randomUUID()}`;
      const writer = store();
      writer.writeAccepted("journeys", newId, "/new", accepted, 3_600_000);
      await writer.close();

      // One lookup, on a process that has read nothing yet.
      const reader = store();
      expect(await reader.read("journeys", newId)).toEqual([
        { source: "/new", accepted, routes: [] },
      ]);

      // The old event is read by the backfill; lookups until then may answer nothing.
      const deadline = Date.now() + 60_000;
      let seen: StoredJourney[] = [];
      while (Date.now() < deadline) {
        seen = await reader.read("journeys", oldId);
        if (seen.length > 0) break;
      }
      expect(seen).toEqual([{ source: "/old", accepted, routes: [delivered] }]);
      expect(await reader.read("backlog", "event-7-".padEnd(44, "x"))).toEqual([
        { source: "/bench/source", routes: [{ ...delivered, name: "trigger-7" }] },
      ]);
    } finally {
      await model.close();
    }
  }, 180_000);
});
