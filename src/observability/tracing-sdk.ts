/**
 * The OpenTelemetry JS SDK behind tracing.ts: spans exported over OTLP/HTTP in batches. Loaded
 * only by startTracing's dynamic import, so an untraced process never pays for it.
 */
import {
  type Attributes,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { OTLPExporterBase } from "@opentelemetry/otlp-exporter-base";
import {
  convertLegacyHttpOptions,
  createOtlpHttpExportDelegate,
} from "@opentelemetry/otlp-exporter-base/node-http";
import { TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
} from "@opentelemetry/sdk-trace-base";
import { otlpJsonRequest } from "./otlp-json.js";
import { formatTraceParent, parseTraceParent } from "./trace-context.js";
import {
  type AttemptSpanFields,
  type IngressSpanFields,
  redactUrl,
  type TraceSpan,
  type Tracing,
} from "./tracing.js";

const DEFAULT_SERVICE_NAME = "eventail";

/**
 * A tracer provider with the standard environment's sampler (OTEL_TRACES_SAMPLER), batch settings
 * (OTEL_BSP_*), exporter endpoint and headers (OTEL_EXPORTER_OTLP_*), and resource
 * (OTEL_SERVICE_NAME over OTEL_RESOURCE_ATTRIBUTES over "eventail"), all read from process.env.
 */
export function createSdkTracing(): Tracing {
  const resource = defaultResource()
    .merge(resourceFromAttributes({ "service.name": DEFAULT_SERVICE_NAME }))
    .merge(detectResources({ detectors: [envDetector] }));
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(jsonSpanExporter())],
  });
  const tracer = provider.getTracer("eventail");
  return {
    ingress: (parent, tracestate, fields) => ingressSpan(tracer, parent, tracestate, fields),
    attempt: (parent, tracestate, fields) => attemptSpan(tracer, parent, tracestate, fields),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * What OTLPTraceExporter is (the same OTEL_EXPORTER_OTLP_* configuration, HTTP transport, retries
 * and timeouts), with a serializer that writes the OTLP JSON text directly instead of building
 * the SDK's object tree first.
 */
function jsonSpanExporter(): OTLPExporterBase<ReadableSpan[]> {
  const options = convertLegacyHttpOptions({}, "TRACES", "v1/traces", {
    "Content-Type": "application/json",
  });
  const serializer = {
    serializeRequest: (spans: ReadableSpan[]) => Buffer.from(otlpJsonRequest(spans), "utf8"),
    deserializeResponse: (data: Uint8Array) => {
      if (data.length === 0) return {};
      try {
        return JSON.parse(Buffer.from(data).toString("utf8")) as object;
      } catch {
        return {};
      }
    },
  };
  return new OTLPExporterBase(
    createOtlpHttpExportDelegate(
      options,
      serializer,
      "otlp_http_span_exporter",
      TraceExporterMetricsHelper,
      undefined,
    ),
  );
}

/** The context a span starts under: the valid incoming `traceparent`, or a new trace. */
function parentContext(parent: unknown, tracestate: unknown) {
  const context = parseTraceParent(parent);
  if (context === undefined) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.flags,
    isRemote: true,
    ...(typeof tracestate === "string" && tracestate !== ""
      ? { traceState: createTraceState(tracestate) }
      : {}),
  });
}

function ingressSpan(
  tracer: Tracer,
  parent: unknown,
  tracestate: unknown,
  fields: IngressSpanFields,
): TraceSpan {
  const attributes: Attributes = {
    "eventail.namespace": fields.namespace,
    "eventail.ingress.name": fields.name,
  };
  // Booleans only when true: each attribute is allocated, sanitized and serialized per span.
  if (fields.reply === true) attributes["eventail.ingress.reply"] = true;
  if (fields.eventId !== undefined) attributes["cloudevents.event_id"] = fields.eventId;
  if (fields.eventType !== undefined) attributes["cloudevents.event_type"] = fields.eventType;
  if (fields.eventSource !== undefined) attributes["cloudevents.event_source"] = fields.eventSource;
  const what = fields.reply === true ? "reply ingress" : "ingress";
  const span = tracer.startSpan(
    `${what} ${fields.namespace}/${fields.name}`,
    { kind: fields.reply === true ? SpanKind.INTERNAL : SpanKind.SERVER, attributes },
    parentContext(parent, tracestate),
  );
  return handle(span);
}

function attemptSpan(
  tracer: Tracer,
  parent: unknown,
  tracestate: unknown,
  fields: AttemptSpanFields,
): TraceSpan {
  const attributes: Attributes = {
    "eventail.namespace": fields.namespace,
    "eventail.delivery.kind": fields.kind,
    "eventail.delivery.name": fields.name,
    "eventail.delivery.attempt": fields.attempt,
    "http.request.method": "POST",
    "url.full": redactUrl(fields.url),
  };
  if (fields.deadLetter) attributes["eventail.delivery.dead_letter"] = true;
  const span = tracer.startSpan(
    `${fields.deadLetter ? "dead letter" : "deliver"} ${fields.kind} ${fields.namespace}/${fields.name}`,
    { kind: SpanKind.CLIENT, attributes },
    parentContext(parent, tracestate),
  );
  return handle(span);
}

function handle(span: Span): TraceSpan {
  const context = span.spanContext();
  return {
    traceparent: formatTraceParent({
      traceId: context.traceId,
      spanId: context.spanId,
      flags: context.traceFlags,
    }),
    end(outcome = {}) {
      const { status, error } = outcome;
      if (status !== undefined) span.setAttribute("http.response.status_code", status);
      if (error !== undefined) {
        span.setAttribute("error.type", error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      } else if (status !== undefined && status >= 400) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${status}` });
      }
      span.end();
    },
  };
}
