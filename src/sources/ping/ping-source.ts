import { randomUUID } from "node:crypto";
import { Cron } from "croner";
import { type CloudEvent, createEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import { type EventSink, overrideExtensions, type Source } from "../source.js";

export interface PingSourceSpec {
  schedule: string;
  timezone?: string;
  contentType?: string;
  data?: string;
  dataBase64?: string;
  ceOverrides?: { extensions?: Record<string, string> };
}

export const PING_EVENT_TYPE = "dev.knative.sources.ping";

/** Splits Knative's `CRON_TZ=Zone schedule` form; `spec.timezone` wins when both are given. */
export function parseSchedule(
  schedule: string,
  timezone?: string,
): { pattern: string; timezone?: string } {
  const match = /^\s*CRON_TZ=(\S+)\s+(.*)$/.exec(schedule);
  const pattern = (match ? match[2]! : schedule).trim();
  const zone = timezone ?? match?.[1];
  return zone ? { pattern, timezone: zone } : { pattern };
}

/** The Cron object for a schedule, paused; throws on a bad pattern or zone. */
export function compileSchedule(schedule: string, timezone?: string): Cron {
  const parsed = parseSchedule(schedule, timezone);
  return new Cron(parsed.pattern, {
    paused: true,
    ...(parsed.timezone ? { timezone: parsed.timezone } : {}),
  });
}

/**
 * PingSource: emits `dev.knative.sources.ping` on a cron schedule, with the attributes Knative's
 * PingSource gives (`source` /apis/v1/namespaces/{ns}/pingsources/{name}).
 */
export class PingSource implements Source {
  private job?: Cron;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: PingSourceSpec,
    private readonly logger: Logger,
  ) {}

  /** The event this source emits at `at`. */
  eventAt(at: Date): CloudEvent {
    const attributes: Record<string, string> = {
      specversion: "1.0",
      id: randomUUID(),
      source: `/apis/v1/namespaces/${this.namespace}/pingsources/${this.name}`,
      type: PING_EVENT_TYPE,
      time: at.toISOString(),
    };
    let data: Buffer | undefined;
    if (this.spec.dataBase64 !== undefined) data = Buffer.from(this.spec.dataBase64, "base64");
    else if (this.spec.data !== undefined) data = Buffer.from(this.spec.data, "utf8");
    if (this.spec.contentType !== undefined) attributes["datacontenttype"] = this.spec.contentType;
    else if (data !== undefined && this.spec.dataBase64 === undefined) {
      attributes["datacontenttype"] = "application/json";
    }
    return createEvent(overrideExtensions(attributes, this.spec.ceOverrides), data);
  }

  /** Next fire time after `from` (for tests and for the log line at start). */
  nextRun(from: Date = new Date()): Date | null {
    return compileSchedule(this.spec.schedule, this.spec.timezone).nextRun(from);
  }

  async start(sink: EventSink): Promise<void> {
    const { pattern, timezone } = parseSchedule(this.spec.schedule, this.spec.timezone);
    this.job = new Cron(pattern, { protect: true, ...(timezone ? { timezone } : {}) }, async () => {
      const event = this.eventAt(new Date());
      const outcome = await sink(event);
      this.logger.debug({ source: this.name, outcome: outcome.kind }, "ping delivered");
    });
  }

  async stop(): Promise<void> {
    this.job?.stop();
  }
}
