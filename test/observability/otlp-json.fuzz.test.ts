import {
  type Attributes,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nanos, otlpJsonRequest } from "../../src/observability/otlp-json.js";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: defaultResource().merge(resourceFromAttributes({ "service.name": "eventail" })),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracers = [provider.getTracer("eventail"), provider.getTracer("other", "1.2.3")];

const scalar = fc.oneof(
  fc.string({ unit: "grapheme" }),
  fc.string(),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
);
const attributes: fc.Arbitrary<Attributes> = fc.dictionary(
  fc.string({ unit: "grapheme", maxLength: 12 }),
  fc.oneof(
    scalar,
    fc.array(fc.string(), { maxLength: 3 }),
    fc.array(fc.integer(), { maxLength: 3 }),
  ),
  { maxKeys: 6 },
);
const spanSpec = fc.record({
  tracer: fc.integer({ min: 0, max: 1 }),
  name: fc.string({ unit: "grapheme" }),
  kind: fc.constantFrom(SpanKind.SERVER, SpanKind.CLIENT, SpanKind.INTERNAL),
  attributes,
  late: fc.option(scalar, { nil: undefined }),
  status: fc.option(fc.string(), { nil: undefined }),
  event: fc.option(attributes, { nil: undefined }),
  remoteParent: fc.boolean(),
  traceState: fc.constantFrom(undefined, "a=b", "vendor=x,other=y"),
});

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

/** The SDK's document less its default-valued members (zero counts, empty lists, unset status). */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (typeof value !== "object" || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    if (key.endsWith("Count") && member === 0) continue;
    if (["attributes", "events", "links"].includes(key) && Array.isArray(member)) {
      if (member.length === 0) continue;
    }
    if (key === "traceState" && member === "") continue;
    if (key === "status") {
      const { code, message } = member as { code: number; message?: string };
      const status = { ...(code !== 0 ? { code } : {}), ...(message ? { message } : {}) };
      if (Object.keys(status).length > 0) out[key] = status;
      continue;
    }
    out[key] = withoutDefaults(member);
  }
  return out;
}

describe("OTLP JSON written directly", () => {
  it("is the SDK JsonTraceSerializer's document less default values, for any spans", () => {
    fc.assert(
      fc.property(fc.array(spanSpec, { minLength: 1, maxLength: 8 }), (specs) => {
        exporter.reset();
        for (const spec of specs) {
          const parent = spec.remoteParent
            ? trace.setSpanContext(ROOT_CONTEXT, {
                traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
                spanId: "00f067aa0ba902b7",
                traceFlags: 1,
                isRemote: true,
                ...(spec.traceState ? { traceState: createTraceState(spec.traceState) } : {}),
              })
            : ROOT_CONTEXT;
          const span = tracers[spec.tracer]!.startSpan(
            spec.name,
            { kind: spec.kind, attributes: spec.attributes },
            parent,
          );
          if (spec.late !== undefined) span.setAttribute("late", spec.late);
          if (spec.event !== undefined) span.addEvent("event", spec.event);
          if (spec.status !== undefined) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: spec.status });
          }
          span.end();
        }
        const spans = exporter.getFinishedSpans();
        const ours = otlpJsonRequest(spans);
        const sdk = JSON.parse(text(JsonTraceSerializer.serializeRequest(spans)));
        expect(JSON.parse(ours)).toStrictEqual(withoutDefaults(sdk));
      }),
      { numRuns: 200 },
    );
  });

  it("writes timestamps as decimal nanoseconds without BigInt", () => {
    expect(nanos([1_765_000_000, 5])).toBe("1765000000000000005");
    expect(nanos([1_765_000_000, 999_999_999])).toBe("1765000000999999999");
    expect(nanos([0, 42])).toBe("42");
  });
});
