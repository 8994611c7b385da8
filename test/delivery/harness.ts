import { performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { afterEach } from "vitest";
import { Dispatcher, type DispatcherOptions } from "../../src/delivery/dispatcher.js";
import {
  DEFAULT_DELIVERY,
  type DeliveryLabels,
  type DeliveryOptions,
} from "../../src/delivery/options.js";
import { createEvent } from "../../src/events/event.js";
import { createLogger } from "../../src/observability/logger.js";
import { Metrics } from "../../src/observability/metrics.js";
import { type ReceivedRequest, type Responder, type Sink, startSink } from "./sink.js";

/** Per-test dispatchers, sinks and captured logs, all closed after each test. */

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export async function sink(respond?: Responder): Promise<Sink> {
  const started = await startSink(respond);
  cleanups.push(started.close);
  return started;
}

export interface Harness {
  dispatcher: Dispatcher;
  metrics: Metrics;
  /** Every JSON log line the dispatcher wrote. */
  logs: Array<Record<string, unknown>>;
}

export function harness(options: Partial<DispatcherOptions> = {}): Harness {
  const metrics = new Metrics();
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line.trim() !== "") logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const logger = createLogger({ level: "info", destination });
  const dispatcher = new Dispatcher({ metrics, logger, ...options });
  cleanups.push(() => dispatcher.close());
  return { dispatcher, metrics, logs };
}

export const labels: DeliveryLabels = { namespace: "ns1", kind: "trigger", name: "t1" };
/** The same trigger as the metrics label it (CONTRACT §7's `trigger` label). */
export const series = { namespace: "ns1", trigger: "t1" };

export function delivery(patch: Partial<DeliveryOptions> = {}): DeliveryOptions {
  return { ...DEFAULT_DELIVERY, retry: 0, backoffDelayMs: 10, ...patch };
}

export function sampleEvent(extra: Record<string, string | number> = {}, data?: Buffer) {
  return createEvent(
    {
      specversion: "1.0",
      id: "evt-1",
      source: "/test/source",
      type: "com.example.test",
      ...extra,
    },
    data,
  );
}

/** Time from each answer to the next request: the wait the dispatcher chose, plus a little transport. */
export function waits(requests: readonly ReceivedRequest[]): number[] {
  return requests.slice(1).map((r, i) => r.at - requests[i]!.answeredAt!);
}

/** Polls `condition` every 5 ms until it holds; throws, naming `what`, after `timeoutMs`. */
export async function until(
  condition: () => boolean,
  what = "the condition",
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
