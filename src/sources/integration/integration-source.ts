import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type CloudEvent, createEvent } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import { type EventSink, overrideExtensions } from "../source.js";

/** Knative's IntegrationSource (sources.knative.dev/v1alpha1): one of timer or aws.*. */
export interface IntegrationSourceSpec {
  readonly timer?: TimerSpec;
  readonly aws?: Readonly<Record<string, unknown>>;
  readonly ceOverrides?: { readonly extensions?: Record<string, string> };
}

export interface TimerSpec {
  /** Milliseconds between events (default 1000). */
  readonly period?: number;
  readonly message?: string;
  /** Default text/plain. */
  readonly contentType?: string;
  /** Events to emit in all; absent or 0 means no limit. */
  readonly repeatCount?: number;
}

/** What Knative's timer-source connector (eventing-integrations) sends. */
export const TIMER_EVENT_TYPE = "dev.knative.eventing.timer";
export const TIMER_EVENT_SOURCE = "dev.knative.eventing.timer-source";
export const TIMER_EVENT_SUBJECT = "timer-source";
/** The connector's default message when the spec gives none. */
export const TIMER_DEFAULT_MESSAGE = "Timer source event!";
/** Camel's timer fires first after this delay (or the period, when shorter), then every period. */
const FIRST_FIRE_MS = 1_000;

/**
 * IntegrationSource with `spec.timer`, standalone: emits the event Knative's timer connector
 * emits (`dev.knative.eventing.timer`, the message as data) every `period` ms, `repeatCount`
 * times or forever. Each event is handed to the sink before the next period starts, as Camel's
 * timer waits for its route. The AWS integrations cannot run standalone: such a source only says
 * so in the log.
 */
export class IntegrationSource implements RunnableSource {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private fired = 0;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: IntegrationSourceSpec,
    private readonly logger: Logger,
  ) {}

  /** Events emitted so far. */
  get count(): number {
    return this.fired;
  }

  async start(sink: EventSink): Promise<void> {
    const timer = this.spec.timer;
    if (!timer) {
      const kinds = Object.keys(this.spec.aws ?? {}).filter((key) => key !== "auth");
      this.logger.warn(
        { integration: kinds.map((kind) => `aws.${kind}`).join(", ") || "none" },
        "this IntegrationSource cannot run standalone (only spec.timer does): it emits nothing",
      );
      return;
    }
    this.loop ??= this.run(timer, sink);
  }

  /** Resolves once the timer is done: repeatCount reached, or stopped. */
  async done(): Promise<void> {
    await this.loop;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
  }

  /** The event of one tick. */
  event(timer: TimerSpec, at: Date): CloudEvent {
    const attributes = overrideExtensions(
      {
        specversion: "1.0",
        id: randomUUID(),
        source: TIMER_EVENT_SOURCE,
        type: TIMER_EVENT_TYPE,
        subject: TIMER_EVENT_SUBJECT,
        time: at.toISOString(),
        datacontenttype: timer.contentType ?? "text/plain",
      },
      this.spec.ceOverrides,
    );
    return createEvent(attributes, Buffer.from(timer.message ?? TIMER_DEFAULT_MESSAGE, "utf8"));
  }

  private async run(timer: TimerSpec, sink: EventSink): Promise<void> {
    const { signal } = this.stopping;
    const limit = timer.repeatCount && timer.repeatCount > 0 ? timer.repeatCount : Infinity;
    await sleep(Math.min(FIRST_FIRE_MS, timer.period ?? 1000), undefined, { signal }).catch(
      () => undefined,
    );
    while (!signal.aborted && this.fired < limit) {
      this.fired++;
      await sink(this.event(timer, new Date()));
      if (this.fired >= limit) break;
      await sleep(timer.period ?? 1000, undefined, { signal }).catch(() => undefined);
    }
    if (this.fired >= limit) this.logger.info({ events: this.fired }, "timer reached repeatCount");
  }
}
