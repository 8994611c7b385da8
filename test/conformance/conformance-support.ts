import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConsumeHandler, ConsumeMeta } from "../../src/backing/backing.js";
import { type AttributeValue, type CloudEvent, createEvent } from "../../src/events/event.js";

/** A stream name no earlier run of a durable engine has seen. */
export function uniqueStream(label: string): string {
  return `conformance.${label}.${Date.now().toString(36)}${randomBytes(4).toString("hex")}`;
}

export function uniqueName(label: string): string {
  return `${label}-${randomBytes(3).toString("hex")}`;
}

export function testEvent(
  id: string,
  extra: Record<string, AttributeValue> = {},
  data: Buffer | undefined = Buffer.from(JSON.stringify({ id }), "utf8"),
): CloudEvent {
  return createEvent(
    {
      specversion: "1.0",
      id,
      source: "/eventail/conformance",
      type: "dev.eventail.conformance",
      ...(data === undefined ? {} : { datacontenttype: "application/json" }),
      ...extra,
    },
    data,
  );
}

export function testEvents(
  prefix: string,
  count: number,
  extra: (i: number) => Record<string, AttributeValue> = () => ({}),
): CloudEvent[] {
  return Array.from({ length: count }, (_, i) => testEvent(`${prefix}-${i}`, extra(i)));
}

export function idOf(event: CloudEvent): string {
  return String(event.attributes["id"]);
}

/** Polls `condition` until it holds; the failure message says what was awaited and what was seen. */
export async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  what: string,
  seen: () => unknown = () => undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw ${show(seen())}`);
    }
    await sleep(10);
  }
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "nothing" : text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

export interface Received {
  readonly event: CloudEvent;
  readonly deliveryCount: number;
  readonly at: number;
}

/**
 * Records what one consumer's handler saw, and how many handlers ran at once. `behaviour`
 * decides each delivery's fate (resolve by default); its promise is what the backing awaits.
 */
export class Recorder {
  readonly received: Received[] = [];
  inFlight = 0;
  maxInFlight = 0;
  completed = 0;
  readonly handler: ConsumeHandler;

  constructor(behaviour: (event: CloudEvent, meta: ConsumeMeta) => Promise<void> = async () => {}) {
    this.handler = async (event, meta) => {
      this.received.push({ event, deliveryCount: meta.deliveryCount, at: Date.now() });
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      try {
        await behaviour(event, meta);
      } finally {
        this.inFlight--;
        this.completed++;
      }
    };
  }

  ids(): string[] {
    return this.received.map((r) => idOf(r.event));
  }

  distinctIds(): Set<string> {
    return new Set(this.ids());
  }

  hasAll(ids: Iterable<string>): boolean {
    const seen = this.distinctIds();
    for (const id of ids) if (!seen.has(id)) return false;
    return true;
  }
}

/** A promise tests open by hand; every gate is opened at the end of each test. */
export class Gate {
  private static readonly open: Array<() => void> = [];
  readonly promise: Promise<void>;
  release!: () => void;

  constructor() {
    this.promise = new Promise<void>((resolve) => {
      this.release = resolve;
    });
    Gate.open.push(this.release);
  }

  static releaseAll(): void {
    for (const release of Gate.open.splice(0)) release();
  }
}
