import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/**
 * Every Prometheus series Eventail exposes (CONTRACT §7). One instance per server; tests read
 * values back with `registry.getSingleMetric(...)` or the text at /metrics.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly ingressEvents = new Counter({
    name: "eventail_ingress_events_total",
    help: "Events (or batches) received at an ingress, by HTTP status answered",
    labelNames: ["namespace", "broker", "code"] as const,
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: "eventail_delivery_attempts_total",
    help: "HTTP delivery attempts to subscribers, by status (or 'error' with no response)",
    labelNames: ["namespace", "trigger", "code"] as const,
    registers: [this.registry],
  });

  readonly deliveryLatency = new Histogram({
    name: "eventail_delivery_latency_seconds",
    help: "Time from the start of a delivery to its outcome, retries included",
    labelNames: ["namespace", "trigger"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly deadLetters = new Counter({
    name: "eventail_dead_letters_total",
    help: "Events sent to a dead-letter sink",
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
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
