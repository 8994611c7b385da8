import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";

/** One span as an OTLP/HTTP JSON export request carries it, with its attributes flattened. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Empty for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, string | number | boolean>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly serviceName: string;
}

interface AnyValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface ExportRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: KeyValue[];
        status?: { code?: number };
      }>;
    }>;
  }>;
}

/** OTLP/JSON ids are hex; the protobuf-to-JSON mapping would give base64. Accept either. */
function hexId(id: string | undefined): string {
  if (id === undefined || id === "") return "";
  if (/^[0-9a-f]+$/i.test(id)) return id.toLowerCase();
  return Buffer.from(id, "base64").toString("hex");
}

function flatten(attributes: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of attributes ?? []) {
    if (value.stringValue !== undefined) out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (value.boolValue !== undefined) out[key] = value.boolValue;
    else if (value.doubleValue !== undefined) out[key] = value.doubleValue;
  }
  return out;
}

/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1: it accepts `POST /v1/traces` in the JSON
 * encoding (what the OTLP/HTTP exporters send), decodes every span and keeps it.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every request that reached it, decodable or not. */
  requests = 0;
  readonly problems: string[] = [];
  private server?: http.Server;
  url = "";

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        this.requests++;
        try {
          let body = Buffer.concat(chunks);
          if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
          if (req.url !== "/v1/traces") throw new Error(`unexpected path ${req.url}`);
          if (!String(req.headers["content-type"]).startsWith("application/json")) {
            throw new Error(`unexpected content-type ${req.headers["content-type"]}`);
          }
          this.decode(JSON.parse(body.toString("utf8")) as ExportRequest);
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } catch (error) {
          this.problems.push((error as Error).message);
          res.writeHead(400).end();
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  private decode(request: ExportRequest): void {
    for (const resourceSpans of request.resourceSpans ?? []) {
      const resource = flatten(resourceSpans.resource?.attributes);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            traceId: hexId(span.traceId),
            spanId: hexId(span.spanId),
            parentSpanId: hexId(span.parentSpanId),
            name: span.name,
            kind: span.kind ?? 0,
            attributes: flatten(span.attributes),
            statusCode: span.status?.code ?? 0,
            serviceName: String(resource["service.name"] ?? ""),
          });
        }
      }
    }
  }

  /** Waits until `done(spans)` holds; throws with what arrived when it does not in time. */
  async waitUntil(done: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs = 20_000) {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.spans)) {
      if (Date.now() > deadline) {
        throw new Error(
          `spans never arrived as expected; got ${this.spans.length}: ${this.spans
            .map((s) => `${s.name}(${s.spanId}<-${s.parentSpanId})`)
            .join(", ")}; problems: ${this.problems.join("; ")}`,
        );
      }
      await sleep(50);
    }
    return this.spans;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
