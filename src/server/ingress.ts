/**
 * The broker, channel and flow ingress: binary, structured and batched CloudEvents over HTTP POST,
 * the webhook OPTIONS handshake, and every status of CONTRACT §3. Node's HTTP server hands it
 * every request before fastify sees it; it serves each one addressed to an ingress route start to
 * finish on Node's request and response, and returns false for the rest, which fastify routes.
 * Fastify's routing, request and reply objects and hooks cost a measurable share of an event's
 * CPU on the hot path (BENCHMARKS.md), so the ingress does without them.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { DataPlane, IngressTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { acceptEvents, type InFlightLimit } from "./accept-events.js";
import { errorBody, HttpError, logRejection, toHttpError } from "./errors.js";
import {
  type Admitted,
  authenticateRequest,
  type IngressGuard,
  routePath,
} from "./ingress-guard.js";
import type { IngressRouteTable, RouteMatch } from "./ingress-routes.js";

export interface IngressOptions {
  readonly dataPlane: DataPlane;
  readonly routes: IngressRouteTable;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly capacity: InFlightLimit;
  /** Authentication and EventPolicy authorization (CONTRACT §10); none when absent. */
  readonly guard?: IngressGuard;
}

/** Takes the request and returns true, or returns false having touched nothing. */
export type IngressDoor = (request: IncomingMessage, response: ServerResponse) => boolean;

const ACCEPTED_HEADERS = Object.freeze({ "content-length": "0" });
const HANDSHAKE_HEADERS = Object.freeze({
  allow: "POST, OPTIONS",
  "webhook-allowed-origin": "*",
  "webhook-allowed-rate": "*",
  "content-length": "0",
});
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
const EMPTY = Buffer.alloc(0);

function ignore(): void {}

export function ingressDoor(options: IngressOptions): IngressDoor {
  const { dataPlane, routes, metrics, logger, capacity, guard } = options;

  const count = (labels: Record<string, string>, status: number) =>
    metrics.countIngress(labels["namespace"] ?? "", labels["name"] ?? "", String(status));

  /** Answers with the catalogue's body, logs the one line, counts the answer. */
  const reject = (
    request: IncomingMessage,
    response: ServerResponse,
    labels: Record<string, string>,
    error: unknown,
    fields: Record<string, unknown> = {},
  ) => {
    const httpError = toHttpError(error);
    logRejection(logger, error, httpError, { ...fields, url: request.url });
    const payload = JSON.stringify(errorBody(httpError.code, httpError.message));
    response
      .writeHead(httpError.statusCode, {
        ...httpError.headers,
        "content-type": JSON_CONTENT_TYPE,
        "content-length": String(Buffer.byteLength(payload)),
      })
      .end(payload);
    count(labels, httpError.statusCode);
  };

  /**
   * What a request gets before its body is read: the target to read it for, the handshake
   * (undefined), or the error to answer with. Closing the connection on a 413 spares reading a
   * body that will not be used; on a 503 it lets the client move to another instance.
   */
  const admit = (
    request: IncomingMessage,
    match: RouteMatch,
  ): IngressTarget | HttpError | undefined => {
    if (match.kind === "malformed") {
      return new HttpError(
        "INVALID_URL",
        `path segment ${match.segment} is not valid percent-encoding`,
      );
    }
    const method = request.method;
    if (method === "OPTIONS") return undefined;
    if (method !== "POST") {
      return new HttpError("METHOD_NOT_ALLOWED", `method ${method} is not allowed; use POST`, {
        allow: "POST, OPTIONS",
      });
    }
    if (!dataPlane.isAccepting()) {
      return new HttpError("SHUTTING_DOWN", "shutting down; send to another instance", {
        "retry-after": "1",
        connection: "close",
      });
    }
    const { route, params } = match;
    const target = route.lookup(params);
    if (target === undefined) {
      return new HttpError(
        "NOT_FOUND",
        `${route.what} ${params["namespace"]}/${params["name"]} does not exist`,
      );
    }
    const declared = request.headers["content-length"];
    if (declared !== undefined && Number(declared) > target.bodyLimit) {
      return tooLarge(`request body of ${declared} bytes`, target.bodyLimit);
    }
    return target;
  };

  /** Reads the body, counting a chunked one as it arrives, and accepts its events. */
  const serve = (
    request: IncomingMessage,
    response: ServerResponse,
    labels: Record<string, string>,
    target: IngressTarget,
    admitted: Admitted | undefined,
  ) => {
    const limit = target.bodyLimit;
    const authorize =
      admitted === undefined || guard === undefined
        ? undefined
        : (events: readonly CloudEvent[]) =>
            guard.authorize(admitted.address, admitted.token, events);
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      // A declared length was checked and Node's parser never reads past it: only a chunked
      // body can get here.
      received += chunk.length;
      if (received > limit) {
        request.off("data", onData);
        request.off("end", onEnd);
        chunks.length = 0;
        reject(request, response, labels, tooLarge("request body", limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body =
        chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks);
      let rejected: CloudEvent | undefined;
      acceptEvents(
        target,
        capacity,
        request.headers,
        body,
        (event) => {
          rejected = event;
        },
        authorize,
      ).then(
        // Each side catches its own bug: a .catch would be one more promise per request.
        () => {
          try {
            response.writeHead(202, ACCEPTED_HEADERS).end();
            count(labels, 202);
          } catch (error) {
            crashed(request, response, error);
          }
        },
        (error: unknown) => {
          try {
            reject(request, response, labels, error, rejected ? eventLogFields(rejected) : {});
          } catch (bug) {
            crashed(request, response, bug);
          }
        },
      );
    };
    request.on("data", onData);
    request.on("end", onEnd);
    // A client that goes away mid-body had nothing accepted; there is nobody left to answer.
    request.on("error", ignore);
  };

  /** Only a bug gets here. */
  const crashed = (request: IncomingMessage, response: ServerResponse, error: unknown) => {
    logger.error({ url: request.url, err: error }, "request failed");
    if (!response.headersSent) {
      const payload = JSON.stringify(errorBody("INTERNAL", "internal error"));
      response.writeHead(500, { "content-type": JSON_CONTENT_TYPE }).end(payload);
    }
  };

  return (request, response) => {
    const match = routes.match(request.url ?? "");
    if (match === undefined) return false;
    const labels = match.kind === "route" ? match.params : {};
    const admitted = admit(request, match);
    if (admitted instanceof HttpError) reject(request, response, labels, admitted);
    else if (admitted !== undefined && match.kind === "route") {
      // Before the body is read: a request without a valid token costs no more than its headers.
      const authenticated = guard?.enabled()
        ? authenticateRequest(guard, routePath(match.route.url, match.params), request.headers)
        : undefined;
      if (authenticated instanceof HttpError) reject(request, response, labels, authenticated);
      else if (authenticated instanceof Promise) {
        authenticated
          .then((result) =>
            result instanceof HttpError
              ? reject(request, response, labels, result)
              : serve(request, response, labels, admitted, result),
          )
          .catch((error: unknown) => crashed(request, response, error));
      } else serve(request, response, labels, admitted, authenticated);
    } else {
      response.writeHead(200, HANDSHAKE_HEADERS).end();
      count(labels, 200);
    }
    return true;
  };
}

function tooLarge(what: string, limit: number): HttpError {
  return new HttpError("PAYLOAD_TOO_LARGE", `${what} exceeds the limit of ${limit} bytes`, {
    connection: "close",
  });
}
