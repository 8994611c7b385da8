import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/kafka/index.js";
import { type CloudEvent, createEvent } from "../../../src/events/event.js";
import { createLogger, silentLogger } from "../../../src/observability/logger.js";

/** Settings that make the mock cluster's group joins and failure detection quick. */
export const FAST_GROUPS = {
  "session.timeout.ms": "3000",
  "rebalance.timeout.ms": "10000",
  "redelivery.delay.ms": "200",
  "subscribe.timeout.ms": "30000",
} as const;

export async function kafkaBacking(
  brokers: string,
  settings: Record<string, string> = {},
): Promise<Backing> {
  return createBacking(
    { kind: "kafka", settings: { "bootstrap.servers": brokers, ...FAST_GROUPS, ...settings } },
    { logger: process.env["KAFKA_TEST_LOG"] ? createLogger({ level: "debug" }) : silentLogger() },
  );
}

/** A stream no other test (or earlier run) has used, so topics and groups start empty. */
export function freshStream(): string {
  return `broker.kafkatest.${randomUUID().slice(0, 8)}`;
}

export function testEvent(
  index: number,
  extensions: Record<string, string | number | boolean> = {},
): CloudEvent {
  return createEvent(
    {
      specversion: "1.0",
      id: `e-${index}`,
      source: "/eventail/test",
      type: "dev.eventail.test",
      datacontenttype: "application/json",
      ...extensions,
    },
    Buffer.from(JSON.stringify({ index })),
  );
}

export function ids(events: readonly CloudEvent[]): string[] {
  return events.map((event) => String(event.attributes["id"]));
}

/** Polls until `check` is true, failing with `what` (and what `seen` reports) after `ms`. */
export async function eventually(
  what: string,
  check: () => boolean,
  ms = 15_000,
  seen: () => unknown = () => undefined,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${ms} ms waiting for ${what}; saw ${JSON.stringify(seen())}`,
      );
    }
    await sleep(25);
  }
}
