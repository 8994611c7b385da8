import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { CounterTally, TwoLabelHistogram } from "./tally.js";

/**
 * Every Prometheus series Eventail exposes (CONTRACT §7). One instance per server; tests read
 * values back with `registry.getSingleMetric(...)` or the text at /metrics. The per-event series
 * are counted through tallies (see tally.ts): call countIngress, countAttempt and
 * deliveryLatency.observe on the hot path, not the prom-client objects.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly ingressTally: CounterTally;
  private readonly attemptTally: CounterTally;

  readonly ingressEvents: Counter<"namespace" | "broker" | "code">;
  readonly deliveryAttempts: Counter<"namespace" | "trigger" | "code">;

  readonly deliveryLatency = new TwoLabelHistogram(
    "eventail_delivery_latency_seconds",
    "Time from the start of a delivery to its outcome, retries included",
    ["namespace", "trigger"],
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );

  readonly deadLetters = new Counter({
    name: "eventail_dead_letters_total",
    help: "Events sent to a dead-letter sink or kept in the dead-letter store",
    labelNames: ["namespace", "trigger"] as const,
    registers: [this.registry],
  });

  readonly droppedEvents = new Counter({
    name: "eventail_dropped_events_total",
    help: "Events given up on with nowhere to go, by reason",
    labelNames: ["namespace", "reason"] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    [this.ingressEvents, this.ingressTally] = this.talliedCounter(
      "eventail_ingress_events_total",
      "Events (or batches) received at an ingress, by HTTP status answered",
      ["namespace", "broker", "code"],
    );
    [this.deliveryAttempts, this.attemptTally] = this.talliedCounter(
      "eventail_delivery_attempts_total",
      "HTTP delivery attempts to subscribers, by status (or 'error' with no response)",
      ["namespace", "trigger", "code"],
    );
    this.registry.registerMetric(this.deliveryLatency as never);
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client has heap used/total and external, not the buffers inside external: the
      // part that network reads and writes hold.
      new Gauge({
        name: "eventail_process_array_buffers_bytes",
        help: "ArrayBuffers and Buffers of this process (process.memoryUsage().arrayBuffers)",
        registers: [this.registry],
        collect() {
          this.set(process.memoryUsage().arrayBuffers);
        },
      });
    }
  }

  /** A counter and the tally it takes the hot path's counts from whenever it is read. */
  private talliedCounter<L extends string>(
    name: string,
    help: string,
    labelNames: readonly [L, L, L],
  ): [Counter<L>, CounterTally] {
    const tally = new CounterTally(labelNames);
    const counter = new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        tally.flushInto(this);
      },
    });
    return [counter, tally];
  }

  /** One request answered at a broker, channel or flow ingress. */
  countIngress(namespace: string, broker: string, code: string): void {
    this.ingressTally.add(namespace, broker, code);
  }

  /** One HTTP delivery attempt, by status or "error"/"timeout". */
  countAttempt(namespace: string, trigger: string, code: string): void {
    this.attemptTally.add(namespace, trigger, code);
  }
}
