import type { IncomingMessage, ServerResponse } from "node:http";
import { type CloudEvent, eventLogFields } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import type { DataPlane, IngressTarget } from "./data-plane.js";
import { errorBody } from "./errors.js";
import { acceptEvents, type InFlightLimit, logRejection, toHttpError } from "./ingress.js";

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
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly capacity: InFlightLimit;
}

/** Takes the request and returns true, or returns false having touched nothing. */
export type DirectDoor = (request: IncomingMessage, response: ServerResponse) => boolean;

interface Located {
  readonly target: IngressTarget;
  /** The path's namespace and name, the ingress metric's labels (as fastify's params give them). */
  readonly namespace: string;
  readonly name: string;
}

const ACCEPTED_HEADERS = Object.freeze({ "content-length": "0" });
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
/** find-my-way's default maxParamLength: a longer segment makes fastify answer 404. */
const MAX_PARAM_LENGTH = 100;
const EMPTY = Buffer.alloc(0);

function ignore(): void {}

/**
 * The target a POST path names, with the routes of app.ts: `/{ns}/{broker}`,
 * `/channels/{ns}/{name}`, `/flows/{ns}/sequences|parallels/{name}`. Undefined for anything
 * fastify should decide (another path, a percent-encoded or over-long segment, no such target).
 */
function locate(dataPlane: DataPlane, url: string): Located | undefined {
  const query = url.indexOf("?");
  const path = query === -1 ? url : url.slice(0, query);
  if (path.charCodeAt(0) !== 47 /* / */ || path.includes("%")) return undefined;
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.length === 0 || part.length > MAX_PARAM_LENGTH) return undefined;
  }
  let target: IngressTarget | undefined;
  let namespace: string;
  let name: string;
  if (parts.length === 3) {
    namespace = parts[1]!;
    name = parts[2]!;
    target = dataPlane.broker(namespace, name);
  } else if (parts.length === 4 && parts[1] === "channels") {
    namespace = parts[2]!;
    name = parts[3]!;
    target = dataPlane.channel(namespace, name);
  } else if (
    parts.length === 5 &&
    parts[1] === "flows" &&
    (parts[3] === "sequences" || parts[3] === "parallels")
  ) {
    namespace = parts[2]!;
    name = parts[4]!;
    target = dataPlane.flow(namespace, parts[3], name);
  } else return undefined;
  return target === undefined ? undefined : { target, namespace, name };
}

export function directIngress(options: DirectIngressOptions): DirectDoor {
  const { dataPlane, metrics, logger, capacity } = options;

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
      metrics.countIngress(located.namespace, located.name, String(httpError.statusCode));
      return;
    }
    response.writeHead(202, ACCEPTED_HEADERS).end();
    metrics.countIngress(located.namespace, located.name, "202");
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
    const located = locate(dataPlane, request.url ?? "");
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
