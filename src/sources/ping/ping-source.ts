import { randomUUID } from "node:crypto";
import { Cron } from "croner";
import { type CloudEvent, createEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import { BoundedWork } from "../bounded-work.js";
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

/**
 * Splits Knative's `CRON_TZ=Zone schedule` form (or `TZ=Zone`, which robfig/cron and validation
 * accept as well); `spec.timezone` wins when both are given. Without either the zone is UTC, as
 * the CRD says and as Knative's adapter runs: croner would otherwise read the host's zone.
 */
export function parseSchedule(
  schedule: string,
  timezone?: string,
): { pattern: string; timezone: string } {
  const match = /^\s*(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/s.exec(schedule);
  const pattern = (match ? match[2]! : schedule).trim();
  return { pattern, timezone: timezone || match?.[1] || "UTC" };
}

/** The Cron object for a schedule, paused; throws on a bad pattern or zone. */
export function compileSchedule(schedule: string, timezone?: string): Cron {
  const parsed = parseSchedule(schedule, timezone);
  return new Cron(parsed.pattern, { paused: true, timezone: parsed.timezone });
}

/**
 * How many ticks of one PingSource may be in delivery at once. Knative sends each tick on its own
 * goroutine, unbounded; here a dead sink cannot pile them up without limit. Schedules are per
 * minute at most (5 fields), so 64 is about an hour of ticks still retrying: with the default
 * delivery (about 3.4 minutes of retries) a per-minute schedule keeps 4 in flight.
 */
export const MAX_TICKS_IN_FLIGHT = 64;

/**
 * PingSource: emits `dev.knative.sources.ping` on a cron schedule, with the attributes Knative's
 * PingSource gives (`source` /apis/v1/namespaces/{ns}/pingsources/{name}).
 */
export class PingSource implements Source {
  private job?: Cron;
  private readonly ticks: BoundedWork;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: PingSourceSpec,
    private readonly logger: Logger,
    maxTicksInFlight = MAX_TICKS_IN_FLIGHT,
  ) {
    this.ticks = new BoundedWork(
      logger,
      `PingSource ${namespace}/${name}: ticks`,
      maxTicksInFlight,
    );
  }

  /** Ticks not sent because maxTicksInFlight earlier ticks were still being delivered. */
  get ticksSkipped(): number {
    return this.ticks.skipped;
  }

  /** The event this source emits at `at`. */
  eventAt(at: Date): CloudEvent {
    const attributes: Record<string, string> = {
      specversion: "1.0",
      id: randomUUID(),
      source: `/apis/v1/namespaces/${this.namespace}/pingsources/${this.name}`,
      type: PING_EVENT_TYPE,
      time: at.toISOString(),
    };
    // As Knative's adapter (makeEvent): empty data or dataBase64 is no data, and the content
    // type goes with the data, only as spec.contentType gives it (none is guessed).
    let data: Buffer | undefined;
    if (this.spec.dataBase64) data = Buffer.from(this.spec.dataBase64, "base64");
    else if (this.spec.data) data = Buffer.from(this.spec.data, "utf8");
    const contentType = this.spec.contentType?.trim();
    if (data !== undefined && contentType) attributes["datacontenttype"] = contentType;
    return createEvent(overrideExtensions(attributes, this.spec.ceOverrides), data);
  }

  /** Next fire time after `from` (for tests and for the log line at start). */
  nextRun(from: Date = new Date()): Date | null {
    return compileSchedule(this.spec.schedule, this.spec.timezone).nextRun(from);
  }

  async start(sink: EventSink): Promise<void> {
    const { pattern, timezone } = parseSchedule(this.spec.schedule, this.spec.timezone);
    // No `protect`: it would drop every tick while an earlier one is still retrying.
    this.job = new Cron(pattern, { timezone }, () => this.tick(sink));
  }

  /** Sends one tick's event on its own, without waiting for the ticks before it. */
  private tick(sink: EventSink): void {
    this.ticks.run(async () => {
      const outcome = await sink(this.eventAt(new Date()));
      this.logger.debug({ source: this.name, outcome: outcome.kind }, "ping delivered");
    });
  }

  async stop(): Promise<void> {
    this.job?.stop();
  }
}
