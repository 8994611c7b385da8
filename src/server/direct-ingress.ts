import type { IncomingMessage, ServerResponse } from "node:http";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { DataPlane, IngressTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { errorBody } from "./errors.js";
import {
  acceptEvents,
  type InFlightLimit,
  type IngressRoute,
  logRejection,
  toHttpError,
} from "./ingress.js";

/**
 * The direct door of the broker, channel and flow ingress: Node's HTTP server hands it every
 * request before fastify sees it, and it takes the ones it can serve start to finish without
 * fastify's routing, request and reply objects and hooks — a POST to an existing target, while
 * accepting, with a declared length within the target's limit. Everything else (other methods and
 * paths, unknown targets, shutdown, chunked or oversized bodies, percent-encoded paths) goes on to
 * fastify's routes in ingress.ts, which answer it. Both doors share acceptEvents, the error
 * catalogue and the log line, so a client cannot tell which one served it; fastify's per-request
 * work was ~15% of the CPU of an event on the 1-trigger benchmark (BENCHMARKS.md, round 4).
 */

export interface DirectIngressOptions {
  readonly dataPlane: DataPlane;
  /** The routes fastify registers (ingressRoutes): the door serves the same addresses. */
  readonly routes: readonly IngressRoute[];
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly capacity: InFlightLimit;
}

/** Takes the request and returns true, or returns false having touched nothing. */
export type DirectDoor = (request: IncomingMessage, response: ServerResponse) => boolean;

interface Located {
  readonly target: IngressTarget;
  /** The path's parameters, the ingress metric's labels (as fastify's params give them). */
  readonly params: Record<string, string>;
}

const ACCEPTED_HEADERS = Object.freeze({ "content-length": "0" });
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
/** find-my-way's default maxParamLength: a longer segment makes fastify answer 404. */
const MAX_PARAM_LENGTH = 100;
const EMPTY = Buffer.alloc(0);

function ignore(): void {}

/** A route's URL pattern as segments: a name for a parameter, the text for a static segment. */
interface Pattern {
  readonly route: IngressRoute;
  readonly segments: readonly { readonly param?: string; readonly text?: string }[];
}

function compile(route: IngressRoute): Pattern {
  const segments = route.url
    .slice(1)
    .split("/")
    .map((part) => (part.startsWith(":") ? { param: part.slice(1) } : { text: part }));
  return { route, segments };
}

/**
 * The target a POST path names, by the routes' patterns in order. Undefined for anything fastify
 * should decide: no route, a percent-encoded or over-long segment, or no such target.
 */
function locate(patterns: readonly Pattern[], url: string): Located | undefined {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  if (path.charCodeAt(0) !== 47 /* / */ || path.includes("%")) return undefined;
  const parts = path.slice(1).split("/");
  for (const part of parts) {
    if (part.length === 0 || part.length > MAX_PARAM_LENGTH) return undefined;
  }
  for (const { route, segments } of patterns) {
    if (segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let matched = true;
    for (let i = 0; i < segments.length && matched; i++) {
      const segment = segments[i]!;
      if (segment.param !== undefined) params[segment.param] = parts[i]!;
      else matched = segment.text === parts[i];
    }
    if (!matched) continue;
    const target = route.lookup(params);
    return target === undefined ? undefined : { target, params };
  }
  return undefined;
}

export function directIngress(options: DirectIngressOptions): DirectDoor {
  const { dataPlane, metrics, logger, capacity } = options;
  const patterns = options.routes.map(compile);
  const count = (located: Located, status: number) =>
    metrics.countIngress(
      located.params["namespace"] ?? "",
      located.params["name"] ?? "",
      String(status),
    );

  const answer = async (
    request: IncomingMessage,
    response: ServerResponse,
    located: Located,
    body: Buffer,
  ): Promise<void> => {
    let rejected: CloudEvent | undefined;
    try {
      await acceptEvents(located.target, capacity, request.headers, body, (event) => {
        rejected = event;
      });
    } catch (error) {
      const httpError = toHttpError(error);
      logRejection(logger, error, httpError, {
        ...(rejected ? eventLogFields(rejected) : {}),
        url: request.url,
      });
      const payload = JSON.stringify(errorBody(httpError.code, httpError.message));
      response
        .writeHead(httpError.statusCode, {
          ...httpError.headers,
          "content-type": JSON_CONTENT_TYPE,
          "content-length": String(Buffer.byteLength(payload)),
        })
        .end(payload);
      count(located, httpError.statusCode);
      return;
    }
    response.writeHead(202, ACCEPTED_HEADERS).end();
    count(located, 202);
  };

  /** Only a bug gets here: answered as fastify answers an error of its own. */
  const crashed = (request: IncomingMessage, response: ServerResponse, error: unknown) => {
    logger.error({ url: request.url, err: error }, "request failed");
    if (!response.headersSent) {
      const payload = JSON.stringify(errorBody("INTERNAL", "internal error"));
      response.writeHead(500, { "content-type": JSON_CONTENT_TYPE }).end(payload);
    }
  };

  return (request, response) => {
    if (request.method !== "POST" || !dataPlane.isAccepting()) return false;
    // A chunked body is counted as it arrives by fastify's route; a declared one was bounded by
    // Node's parser, which never reads past it.
    const declared = request.headers["content-length"];
    if (declared === undefined) return false;
    const located = locate(patterns, request.url ?? "");
    if (located === undefined || !(Number(declared) <= located.target.bodyLimit)) return false;

    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    // A client that goes away mid-body had nothing accepted; there is nobody left to answer.
    request.on("error", ignore);
    request.on("end", () => {
      const body =
        chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks);
      answer(request, response, located, body).catch((error: unknown) =>
        crashed(request, response, error),
      );
    });
    return true;
  };
}
