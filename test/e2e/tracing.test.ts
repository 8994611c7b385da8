import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { OtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { type ReceivedRequest, type SinkResponse, startSink } from "../support/sink.js";

/**
 * CONTRACT §7 tracing, end to end: a real `eventail run` process exports over OTLP/HTTP to a
 * receiver in this test, which decodes every span; the assertions walk the parent links.
 */
const skip = !eventailBuilt();

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await stopEventailProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(): Promise<OtlpReceiver> {
  const r = await new OtlpReceiver().start();
  cleanups.push(() => r.close());
  return r;
}

async function sink(responder?: (r: ReceivedRequest, i: number) => SinkResponse | undefined) {
  const s = await startSink(responder);
  cleanups.push(() => s.close());
  return s;
}

function manifests(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-tracing-"));
  writeFileSync(path.join(dir, "manifests.yaml"), yaml);
  return dir;
}

/** A producer's own span: the trace the broker must join. */
function producerContext() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

function spanIdOf(traceparent: unknown): string {
  return String(traceparent).split("-")[2] ?? "";
}

/** A subscriber that answers with a new event (no trace context of its own), or echoes it. */
function replier(type: string, echoTraceparent: boolean) {
  return (req: ReceivedRequest): SinkResponse => ({
    status: 200,
    headers: {
      "ce-specversion": "1.0",
      "ce-id": `${String(req.event?.attributes["id"])}-${type}`,
      "ce-source": "/replier",
      "ce-type": type,
      ...(echoTraceparent ? { "ce-traceparent": String(req.headers["ce-traceparent"]) } : {}),
      "content-type": "application/json",
    },
    body: "{}",
  });
}

async function post(url: string, traceparent: string | undefined, id: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/producer",
      "ce-type": "dev.example.start",
      "content-type": "application/json",
      ...(traceparent ? { traceparent } : {}),
    },
    body: "{}",
  });
  return response.status;
}

/** The chain of spans from `spanId` up to the root of what was exported, nearest first. */
function ancestry(spans: readonly ReceivedSpan[], spanId: string): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain: ReceivedSpan[] = [];
  for (let span = byId.get(spanId); span !== undefined; span = byId.get(span.parentSpanId)) {
    chain.push(span);
  }
  return chain;
}

function tracedEnv(otlp: OtlpReceiver, extra: Record<string, string> = {}) {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    ...extra,
  };
}

describe("OpenTelemetry tracing of an eventail run process", () => {
  it.skipIf(skip)(
    "a three-step Sequence is one trace: ingress → attempt → reply → ingress → attempt …",
    async () => {
      const otlp = await receiver();
      const steps = [
        await sink(replier("dev.example.one", true)),
        await sink(replier("dev.example.two", false)),
        await sink(replier("dev.example.three", false)),
      ];
      const final = await sink();
      const dir = manifests(`apiVersion: flows.knative.dev/v1
kind: Sequence
metadata: {name: seq, namespace: default}
spec:
  steps:
    - uri: ${steps[0]!.url}
    - uri: ${steps[1]!.url}
    - uri: ${steps[2]!.url}
  reply: {uri: ${final.url}}
`);
      const running = await EventailProcess.start("traced sequence", {
        manifests: [dir],
        env: tracedEnv(otlp, { OTEL_SERVICE_NAME: "eventail-under-test" }),
      });
      const producer = producerContext();
      expect(
        await post(`${running.url}/flows/default/sequences/seq`, producer.traceparent, "s1"),
      ).toBe(202);
      const [done] = await final.waitFor(1, 30_000);
      const last = spanIdOf(done!.headers["traceparent"]);
      expect(done!.headers["ce-traceparent"]).toBe(done!.headers["traceparent"]);

      // Deliver to the final sink ← step 3 ← channel 2 ingress ← reply to it ← step 2 ← … ← producer.
      const spans = await otlp.waitUntil(
        (all) => ancestry(all, last).at(-1)?.parentSpanId === producer.spanId,
      );
      const chain = ancestry(spans, last).reverse();
      expect(chain.map((s) => s.name.split(" ")[0])).toEqual([
        "ingress", // the Sequence's first channel
        "deliver", // step 1
        "deliver", // its reply, to channel 2
        "ingress",
        "deliver", // step 2
        "deliver",
        "ingress",
        "deliver", // step 3
        "deliver", // its reply, to spec.reply
      ]);
      expect(new Set(chain.map((s) => s.traceId))).toEqual(new Set([producer.traceId]));
      expect(new Set(chain.map((s) => s.serviceName))).toEqual(new Set(["eventail-under-test"]));
      // Each step's subscriber got the traceparent of the attempt span that called it.
      steps.forEach((step, i) => {
        const attempt = chain[1 + 3 * i]!;
        expect(attempt.attributes["url.full"]).toBe(step.url);
        expect(attempt.attributes["eventail.delivery.kind"]).toBe("subscription");
        expect(attempt.attributes["eventail.delivery.attempt"]).toBe(1);
        expect(attempt.attributes["http.response.status_code"]).toBe(200);
        // Flags are set only when true: an ordinary attempt carries no dead-letter attribute.
        expect(attempt.attributes).not.toHaveProperty(["eventail.delivery.dead_letter"]);
        const request = step.requests[0]!;
        expect(spanIdOf(request.headers["traceparent"])).toBe(attempt.spanId);
        expect(request.headers["ce-traceparent"]).toBe(request.headers["traceparent"]);
      });
      expect(chain.at(-1)!.attributes["url.full"]).toBe(final.url);
    },
    90_000,
  );

  it.skipIf(skip)(
    "a retried delivery shows attempts 1 and 2 with their statuses; the reply joins attempt 2; SIGTERM flushes",
    async () => {
      const otlp = await receiver();
      const subscriber = await sink((req, i) =>
        i === 0 ? { status: 503 } : replier("dev.example.reply", false)(req),
      );
      const replies = await sink();
      const dir = manifests(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: flaky, namespace: default}
spec:
  broker: default
  filter: {attributes: {type: dev.example.start}}
  subscriber: {uri: "${subscriber.url.replace("http://", "http://user:secret@")}"}
  delivery: {retry: 1, backoffPolicy: linear, backoffDelay: PT0.1S}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: replies, namespace: default}
spec:
  broker: default
  filter: {attributes: {type: dev.example.reply}}
  subscriber: {uri: ${replies.url}}
`);
      // Export only at shutdown: whatever arrives was flushed by SIGTERM.
      const running = await EventailProcess.start("traced retry", {
        manifests: [dir],
        env: tracedEnv(otlp, { OTEL_BSP_SCHEDULE_DELAY: "3600000" }),
      });
      const producer = producerContext();
      expect(await post(`${running.url}/default/default`, producer.traceparent, "r1")).toBe(202);
      await replies.waitFor(1, 30_000);
      await running.stop();

      const spans = otlp.spans.filter((s) => s.traceId === producer.traceId);
      const ingress = spans.filter((s) => s.parentSpanId === producer.spanId);
      expect(ingress.map((s) => s.name)).toEqual(["ingress default/default"]);
      const attempts = spans
        .filter((s) => s.attributes["eventail.delivery.name"] === "flaky")
        .sort(
          (a, b) =>
            Number(a.attributes["eventail.delivery.attempt"]) -
            Number(b.attributes["eventail.delivery.attempt"]),
        );
      expect(
        attempts.map((s) => [
          s.attributes["eventail.delivery.attempt"],
          s.attributes["http.response.status_code"],
          s.statusCode,
          s.parentSpanId,
        ]),
      ).toEqual([
        [1, 503, 2, ingress[0]!.spanId],
        [2, 200, 0, ingress[0]!.spanId],
      ]);
      expect(attempts[0]!.attributes["eventail.delivery.kind"]).toBe("trigger");
      expect(attempts[0]!.attributes["eventail.namespace"]).toBe("default");
      // The manifest's URL carries credentials; the span's does not.
      expect(attempts[0]!.attributes["url.full"]).toBe(`${subscriber.url}/`);
      expect(subscriber.requests.map((r) => spanIdOf(r.headers["traceparent"]))).toEqual(
        attempts.map((s) => s.spanId),
      );
      const reentry = spans.filter((s) => s.attributes["eventail.ingress.reply"] === true);
      expect(reentry.map((s) => [s.name, s.parentSpanId])).toEqual([
        ["reply ingress default/default", attempts[1]!.spanId],
      ]);
      const toReplies = spans.filter((s) => s.attributes["eventail.delivery.name"] === "replies");
      expect(toReplies.map((s) => s.parentSpanId)).toEqual([reentry[0]!.spanId]);
      expect(spanIdOf(replies.requests[0]!.headers["traceparent"])).toBe(toReplies[0]!.spanId);
      expect(new Set(spans.map((s) => s.serviceName))).toEqual(new Set(["eventail"]));
    },
    90_000,
  );

  it.skipIf(skip)(
    "with no trace endpoint set nothing is exported and traceparent passes on unchanged",
    async () => {
      const otlp = await receiver();
      const subscriber = await sink();
      const dir = manifests(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: default}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: plain, namespace: default}
spec:
  broker: default
  subscriber: {uri: ${subscriber.url}}
`);
      // Endpoints of other signals point at the receiver: only a trace endpoint turns tracing on.
      const running = await EventailProcess.start("untraced", {
        manifests: [dir],
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: "",
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
          OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${otlp.url}/v1/metrics`,
          OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `${otlp.url}/v1/logs`,
          OTEL_BSP_SCHEDULE_DELAY: "100",
        },
      });
      const producer = producerContext();
      expect(await post(`${running.url}/default/default`, producer.traceparent, "u1")).toBe(202);
      const [received] = await subscriber.waitFor(1, 30_000);
      await running.stop();
      expect(received!.headers["traceparent"]).toBe(producer.traceparent);
      expect(received!.headers["ce-traceparent"]).toBe(producer.traceparent);
      expect(otlp.requests).toBe(0);
    },
    90_000,
  );
});
