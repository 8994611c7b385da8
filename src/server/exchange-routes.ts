/**
 * The synchronous surfaces of CONTRACT §2a: `POST /transforms/{ns}/{name}` (EventTransform) and
 * `POST /requestreply/{ns}/{name}` (RequestReply). Each takes one CloudEvent (binary or
 * structured) and answers with an event in binary mode (200), or with no body (202).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { eventLogFields } from "../events/event.js";
import { decodeHttpRequest, encodeHttpRequest } from "../events/http-binding.js";
import {
  type DataPlane,
  DEFAULT_BODY_LIMIT,
  type ExchangeTarget,
} from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import { withTraceContext } from "./accept-events.js";
import { errorBody, HttpError, logRejection, toHttpError } from "./errors.js";

interface Surface {
  readonly prefix: string;
  /** The kind, as 404s and log lines name it. */
  readonly kind: string;
  /** The log field naming the resource. */
  readonly field: string;
  lookup(dataPlane: DataPlane, namespace: string, name: string): ExchangeTarget | undefined;
}

const SURFACES: readonly Surface[] = [
  {
    prefix: "transforms",
    kind: "EventTransform",
    field: "eventTransform",
    lookup: (plane, namespace, name) => plane.transform?.(namespace, name),
  },
  {
    prefix: "requestreply",
    kind: "RequestReply",
    field: "requestReply",
    lookup: (plane, namespace, name) => plane.requestReply?.(namespace, name),
  },
];

const ALLOW = "POST, OPTIONS";
const HANDSHAKE_HEADERS = {
  allow: ALLOW,
  "webhook-allowed-origin": "*",
  "webhook-allowed-rate": "*",
};

type Params = { namespace: string; name: string };

export function exchangeRoutes(options: { dataPlane: DataPlane; logger: Logger }) {
  const { dataPlane, logger } = options;
  return async (app: FastifyInstance): Promise<void> => {
    for (const surface of SURFACES) {
      const url = `/${surface.prefix}/:namespace/:name`;
      app.post(url, { bodyLimit: DEFAULT_BODY_LIMIT }, (request, reply) =>
        serve(surface, request, reply),
      );
      app.options(url, async (_request, reply) => {
        reply.code(200).headers(HANDSHAKE_HEADERS).send();
      });
      app.route({
        method: ["GET", "PUT", "PATCH", "DELETE"],
        url,
        handler: async (request) => {
          throw new HttpError(
            "METHOD_NOT_ALLOWED",
            `method ${request.method} is not allowed; use POST`,
            { allow: ALLOW },
          );
        },
      });
    }
  };

  async function serve(
    surface: Surface,
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> {
    const { namespace, name } = request.params as Params;
    if (!dataPlane.isAccepting()) {
      throw new HttpError("SHUTTING_DOWN", "shutting down; send to another instance", {
        "retry-after": "1",
      });
    }
    const target = surface.lookup(dataPlane, namespace, name);
    if (!target)
      throw new HttpError("NOT_FOUND", `${surface.kind} ${namespace}/${name} does not exist`);
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const { events } = decodeHttpRequest(request.headers, body);
    if (events.length !== 1) {
      throw new HttpError(
        "INVALID_EVENT",
        `${surface.kind} takes one event per request, not a batch`,
      );
    }
    const [event] = withTraceContext([events[0]!], request.headers);
    // The client hanging up ends the wait (a RequestReply's hold, a transform's sink delivery).
    const gone = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) gone.abort();
    });
    if (request.raw.socket.destroyed) gone.abort();
    let answer: Awaited<ReturnType<ExchangeTarget["exchange"]>>;
    try {
      answer = await target.exchange(event, gone.signal);
    } catch (error) {
      const httpError = toHttpError(error);
      logRejection(logger, error, httpError, {
        url: request.url,
        [surface.field]: `${namespace}/${name}`,
        ...eventLogFields(event),
      });
      reply
        .code(httpError.statusCode)
        .headers(httpError.headers)
        .send(errorBody(httpError.code, httpError.message));
      return;
    }
    if (answer.kind === "none") {
      reply.code(answer.status).send();
      return;
    }
    const { headers, body: payload } = encodeHttpRequest(answer.event, "binary");
    // Written by hand: fastify would give a body without datacontenttype a Content-Type.
    reply.hijack();
    const data = payload ?? Buffer.alloc(0);
    reply.raw.writeHead(200, { ...headers, "content-length": String(data.length) }).end(data);
  }
}
