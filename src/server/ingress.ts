import { Transform } from "node:stream";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { BackingFullError, BackingUnavailableError } from "../backing/backing.js";
import { TtlExhaustedError } from "../broker/ttl.js";
import {
  type CloudEvent,
  EventValidationError,
  eventLogFields,
  withAttributes,
} from "../events/event.js";
import { decodeHttpRequest, UnsupportedFormatError } from "../events/http-binding.js";
import type { DataPlane, IngressTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { errorBody, HttpError } from "./errors.js";

/** One ingress surface's address: what fastify registers and the direct door matches. */
export interface IngressRoute {
  /** URL pattern with :namespace and :name parameters. */
  readonly url: string;
  lookup(params: Record<string, string>): IngressTarget | undefined;
  /** What the 404 says is missing, e.g. "broker". */
  readonly what: string;
}

/**
 * The broker, channel and flow ingress routes, in the order fastify registers them (the reserved
 * prefixes first; the broker's `/:namespace/:name` last).
 */
export function ingressRoutes(dataPlane: DataPlane): IngressRoute[] {
  return [
    {
      url: "/channels/:namespace/:name",
      lookup: (p) => dataPlane.channel(p["namespace"]!, p["name"]!),
      what: "channel",
    },
    {
      url: "/flows/:namespace/sequences/:name",
      lookup: (p) => dataPlane.flow(p["namespace"]!, "sequences", p["name"]!),
      what: "sequence",
    },
    {
      url: "/flows/:namespace/parallels/:name",
      lookup: (p) => dataPlane.flow(p["namespace"]!, "parallels", p["name"]!),
      what: "parallel",
    },
    {
      url: "/:namespace/:name",
      lookup: (p) => dataPlane.broker(p["namespace"]!, p["name"]!),
      what: "broker",
    },
  ];
}

export interface IngressRouteOptions extends IngressRoute {
  isAccepting(): boolean;
  metrics: Metrics;
  capacity: InFlightLimit;
}

/** Bounds the events being accepted at once across every ingress of the process. */
export class InFlightLimit {
  private current = 0;
  constructor(readonly max: number) {}
  tryAcquire(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }
  release(): void {
    this.current--;
  }
}

/**
 * What every ingress door does with a request it has read (fastify's routes here and the direct
 * door of direct-ingress.ts): a slot of the in-flight bound, decoding, trace context, and the
 * backing's acknowledgement. Throws what toHttpError maps; `rejected` learns the first decoded
 * event of a request that failed after decoding, for the log line.
 */
export async function acceptEvents(
  target: IngressTarget,
  capacity: InFlightLimit,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
  rejected: (event: CloudEvent) => void,
): Promise<void> {
  if (!capacity.tryAcquire()) {
    throw new HttpError("OVER_CAPACITY", "too many events in flight; retry later", {
      "retry-after": "1",
    });
  }
  let events: CloudEvent[] = [];
  try {
    events = withTraceContext(decodeHttpRequest(headers, body).events, headers);
    await target.ingest(events);
  } catch (error) {
    if (events.length > 0) rejected(events[0]!);
    throw error;
  } finally {
    capacity.release();
  }
}

const WEBHOOK_HEADERS = {
  allow: "POST, OPTIONS",
  "webhook-allowed-origin": "*",
  "webhook-allowed-rate": "*",
};

declare module "fastify" {
  interface FastifyRequest {
    ingressTarget?: IngressTarget;
  }
}

/** Fails the body stream with 413 as soon as it passes the target's limit. */
function limitBody(payload: NodeJS.ReadableStream, limit: number): NodeJS.ReadableStream {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > limit) {
        callback(new HttpError("PAYLOAD_TOO_LARGE", `request body exceeds ${limit} bytes`));
      } else callback(null, chunk);
    },
  });
  payload.on("error", (error) => limiter.destroy(error as Error));
  return payload.pipe(limiter);
}

/**
 * One ingress surface (broker, channel or flow): binary, structured and batched CloudEvents over
 * HTTP POST, the webhook OPTIONS handshake, and every status of CONTRACT §3.
 */
export function registerIngressRoute(app: FastifyInstance, options: IngressRouteOptions): void {
  const { metrics, capacity } = options;

  /** Finds the target and checks the declared length; the error to answer with, if any. */
  const admit = (request: FastifyRequest): HttpError | undefined => {
    if (!options.isAccepting()) {
      return new HttpError("BACKING_UNAVAILABLE", "shutting down; send to another instance", {
        "retry-after": "1",
      });
    }
    const params = request.params as Record<string, string>;
    const target = options.lookup(params);
    if (!target) {
      return new HttpError(
        "NOT_FOUND",
        `${options.what} ${params["namespace"]}/${params["name"]} does not exist`,
      );
    }
    request.ingressTarget = target;
    const length = Number(request.headers["content-length"]);
    if (Number.isFinite(length) && length > target.bodyLimit) {
      return new HttpError(
        "PAYLOAD_TOO_LARGE",
        `request body of ${length} bytes exceeds the limit of ${target.bodyLimit} bytes`,
      );
    }
    return undefined;
  };
  const count = (request: FastifyRequest, code: number) => {
    const params = request.params as Record<string, string>;
    metrics.countIngress(params["namespace"] ?? "", params["name"] ?? "", String(code));
  };
  // Hooks take fastify's callback form: an async hook costs a promise and a microtask per request.
  const onResponse = (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    count(request, reply.statusCode);
    done();
  };

  app.route({
    method: "POST",
    url: options.url,
    bodyLimit: Number.MAX_SAFE_INTEGER,
    onResponse,
    onRequest: (request, _reply, done) => {
      done(admit(request));
    },
    preParsing: (request, _reply, payload, done) => {
      // A declared length was checked in onRequest, and Node's parser never reads a body past
      // it: only a chunked body needs counting as it arrives (a Transform per request is costly).
      if (request.headers["content-length"] !== undefined) done(null, payload);
      else done(null, limitBody(payload, request.ingressTarget!.bodyLimit) as typeof payload);
    },
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      await acceptEvents(request.ingressTarget!, capacity, request.headers, body, (event) => {
        (request as { rejectedEvent?: CloudEvent }).rejectedEvent = event;
      });
      reply.code(202).send();
    },
  });

  app.route({
    method: "OPTIONS",
    url: options.url,
    handler: async (_request, reply) => {
      reply.code(200).headers(WEBHOOK_HEADERS).send();
    },
  });

  app.route({
    method: ["GET", "PUT", "DELETE", "PATCH", "HEAD"],
    url: options.url,
    onResponse,
    handler: async (request, reply) => {
      reply
        .code(405)
        .header("allow", "POST, OPTIONS")
        .send(errorBody("METHOD_NOT_ALLOWED", `method ${request.method} is not allowed; use POST`));
    },
  });
}

/**
 * W3C trace context arrives as transport headers; keeping it on the event as the distributed
 * tracing extension lets every later hop (backing, dispatcher) pass it on.
 */
function withTraceContext(
  events: CloudEvent[],
  headers: Record<string, string | string[] | undefined>,
): CloudEvent[] {
  const traceparent = headers["traceparent"];
  if (typeof traceparent !== "string") return events;
  const tracestate = headers["tracestate"];
  return events.map((event) =>
    event.attributes["traceparent"] !== undefined
      ? event
      : withAttributes(event, {
          traceparent,
          ...(typeof tracestate === "string" ? { tracestate } : {}),
        }),
  );
}

/** Maps any error thrown by an ingress route to the catalogue's status and JSON body. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof EventValidationError) return new HttpError("INVALID_EVENT", error.message);
  if (error instanceof TtlExhaustedError) return new HttpError("TTL_EXHAUSTED", error.message);
  if (error instanceof UnsupportedFormatError) {
    return new HttpError("UNSUPPORTED_FORMAT", error.message);
  }
  if (error instanceof BackingFullError) {
    return new HttpError("OVER_CAPACITY", `${error.message}; retry later`, {
      "retry-after": String(error.retryAfterSeconds),
    });
  }
  if (error instanceof BackingUnavailableError) {
    return new HttpError("BACKING_UNAVAILABLE", `backing unavailable: ${error.message}`, {
      "retry-after": "1",
    });
  }
  const fastifyError = error as { code?: string; statusCode?: number; message?: string };
  if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new HttpError("PAYLOAD_TOO_LARGE", "request body too large");
  }
  if (fastifyError.statusCode === 413) {
    return new HttpError("PAYLOAD_TOO_LARGE", fastifyError.message ?? "request body too large");
  }
  if (fastifyError.statusCode === 415) {
    return new HttpError("UNSUPPORTED_FORMAT", fastifyError.message ?? "unsupported media type");
  }
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
    return new HttpError("INVALID_EVENT", fastifyError.message ?? "bad request");
  }
  return new HttpError("INTERNAL", "internal error");
}

export function rejectionLogFields(request: FastifyRequest): Record<string, unknown> {
  const event = (request as { rejectedEvent?: CloudEvent }).rejectedEvent;
  return event ? eventLogFields(event) : {};
}

/**
 * The one log line of a rejected request, whichever door it came through: a warning naming the
 * reason, or an error with the stack for a failure of our own (INTERNAL).
 */
export function logRejection(
  logger: Logger,
  error: unknown,
  httpError: HttpError,
  fields: Record<string, unknown>,
): void {
  const line = { ...fields, code: httpError.code };
  if (httpError.statusCode >= 500 && httpError.code === "INTERNAL") {
    logger.error({ ...line, err: error }, "request failed");
  } else {
    logger.warn({ ...line, reason: httpError.message }, "request rejected");
  }
}
