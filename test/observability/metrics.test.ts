import { describe, expect, it } from "vitest";
import { Metrics } from "../../src/observability/metrics.js";

/** The per-event series go through tallies; what /metrics shows must be what was counted. */
describe("Metrics exposition", () => {
  it("counts ingress answers and delivery attempts by their labels", async () => {
    const metrics = new Metrics();
    for (let i = 0; i < 3; i++) metrics.countIngress("ns", "default", "202");
    metrics.countIngress("ns", "default", "400");
    metrics.countIngress("other", "default", "202");
    metrics.countAttempt("ns", "t1", "200");
    metrics.countAttempt("ns", "t1", "200");
    metrics.countAttempt("ns", "t1", "error");

    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'eventail_ingress_events_total{namespace="ns",broker="default",code="202"} 3',
    );
    expect(text).toContain(
      'eventail_ingress_events_total{namespace="ns",broker="default",code="400"} 1',
    );
    expect(text).toContain(
      'eventail_ingress_events_total{namespace="other",broker="default",code="202"} 1',
    );
    expect(text).toContain(
      'eventail_delivery_attempts_total{namespace="ns",trigger="t1",code="200"} 2',
    );
    expect(text).toContain(
      'eventail_delivery_attempts_total{namespace="ns",trigger="t1",code="error"} 1',
    );

    // Counted again after a scrape: the tally adds to what prom-client already holds.
    metrics.countIngress("ns", "default", "202");
    expect(await metrics.registry.metrics()).toContain(
      'eventail_ingress_events_total{namespace="ns",broker="default",code="202"} 4',
    );
  });

  it("exposes delivery latency as a cumulative Prometheus histogram", async () => {
    const metrics = new Metrics();
    for (const seconds of [0.0005, 0.001, 0.003, 0.2, 45]) {
      metrics.deliveryLatency.observe("ns", "t1", seconds);
    }
    metrics.deliveryLatency.observe("ns", "t2", 0.02);

    const text = await metrics.registry.metrics();
    expect(text).toContain("# TYPE eventail_delivery_latency_seconds histogram");
    const line = (trigger: string, le: string) =>
      `eventail_delivery_latency_seconds_bucket{namespace="ns",trigger="${trigger}",le="${le}"}`;
    expect(text).toContain(`${line("t1", "0.001")} 2`); // le is inclusive
    expect(text).toContain(`${line("t1", "0.0025")} 2`);
    expect(text).toContain(`${line("t1", "0.005")} 3`);
    expect(text).toContain(`${line("t1", "0.25")} 4`);
    expect(text).toContain(`${line("t1", "30")} 4`);
    expect(text).toContain(`${line("t1", "+Inf")} 5`);
    expect(text).toContain(
      'eventail_delivery_latency_seconds_count{namespace="ns",trigger="t1"} 5',
    );
    expect(text).toMatch(
      /eventail_delivery_latency_seconds_sum\{namespace="ns",trigger="t1"\} 45\.204/,
    );
    expect(text).toContain(`${line("t2", "0.01")} 0`);
    expect(text).toContain(`${line("t2", "0.025")} 1`);
  });

  it("with process metrics, exposes the heap and the array buffers the soak reads", async () => {
    const metrics = new Metrics({ processMetrics: true });
    const text = await metrics.registry.metrics();
    for (const name of [
      "nodejs_heap_size_used_bytes",
      "nodejs_heap_size_total_bytes",
      "nodejs_external_memory_bytes",
      "eventail_process_array_buffers_bytes",
    ]) {
      const value = Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
      expect(value, name).toBeGreaterThan(0);
    }
  });
});
