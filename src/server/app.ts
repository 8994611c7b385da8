import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { decodeHttpRequest } from "../events/http-binding.js";
import {
  type DataPlane,
  DEFAULT_BODY_LIMIT,
  MAX_WEBHOOK_BODY_LIMIT,
  SINK_BODY_LIMIT,
} from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { InFlightLimit } from "./accept-events.js";
import { type ApiDeps, registerApi } from "./api.js";
import { registerConsole } from "./console-routes.js";
import { errorBody, HttpError, logRejection, toHttpError } from "./errors.js";
import { exchangeRoutes } from "./exchange-routes.js";
import { ingressDoor } from "./ingress.js";
import { admit, guardFastifyRoutes, type IngressGuard } from "./ingress-guard.js";
import { IngressRouteTable, ingressRoutes } from "./ingress-routes.js";
import {
  type ConnectionLimits,
  clientErrorAnswer,
  createListener,
  type TlsMaterial,
} from "./listener.js";
import { webhookReply } from "./webhook-reply.js";
import { type IssuerDocuments, registerWellKnown } from "./well-known.js";

export interface ServerOptions {
  dataPlane: DataPlane;
  metrics: Metrics;
  logger: Logger;
  /** Events being accepted at once before ingress answers 429 (default 10,000). */
  maxInFlight?: number;
  /** Header/body timeouts and the connection cap (CONTRACT §10); defaults in listener.ts. */
  limits?: Partial<ConnectionLimits>;
  /** Serve HTTPS with this certificate and key (replaceCertificate swaps them). */
  tls?: TlsMaterial;
  /** CONTRACT §10: the guard of every address, and Eventail's issuer documents. */
  security?: IngressGuard & IssuerDocuments;
  /** CONTRACT §11: the operations API under /api/v1. */
  api?: ApiDeps;
  /** CONTRACT §12: serve the web console at /ui/ from this folder (the built dist/console). */
  console?: { root: string | undefined };
}

/**
 * Builds the HTTP surface without listening: broker, channel and flow ingress (ingress.ts, in
 * front of fastify, so only a real socket reaches it); webhook sources; sinks (and a JobSink's job
 * states); health, readiness and metrics, which fastify routes.
 */
export function buildServer(options: ServerOptions): FastifyInstance {
  const { dataPlane, metrics, logger } = options;
  const capacity = new InFlightLimit(options.maxInFlight ?? 10_000);
  /** The one error handler: the catalogue's status and body, and one log line. */
  const answerError = (error: unknown, request: { url: string }, reply: FastifyReply) => {
    const httpError = toHttpError(error);
    logRejection(logger, error, httpError, { url: request.url });
    reply
      .code(httpError.statusCode)
      .headers(httpError.headers)
      .send(errorBody(httpError.code, httpError.message));
  };
  const routes = new IngressRouteTable(ingressRoutes(dataPlane));
  const guard = options.security;
  const ingress = ingressDoor({
    dataPlane,
    routes,
    metrics,
    logger,
    capacity,
    ...(guard ? { guard } : {}),
  });
  const app = Fastify({
    loggerInstance: logger as unknown as FastifyBaseLogger,
    // One log line per rejected request comes from our error handler, not per request.
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    // Nothing logs through request.log; a pino child per request (bindings serialized) would be
    // made for nothing.
    childLoggerFactory: (logger) => logger,
    // Broker and channel ingress is served before fastify and enforces each target's own limit
    // (413 with our JSON body); every fastify route reads at most this, or its own bodyLimit.
    bodyLimit: DEFAULT_BODY_LIMIT,
    return503OnClosing: true,
    // No route declares a schema: fastify's compilers would load ajv and fast-json-stringify
    // (~100 modules, a few MB of idle memory) for nothing.
    schemaController: {
      compilersFactory: {
        buildValidator: () => () => {
          throw new Error("route schemas are not used: validate in the handler");
        },
        buildSerializer: () => () => {
          throw new Error("route schemas are not used: serialize in the handler");
        },
      },
    },
    forceCloseConnections: false,
    // A path that is not valid percent-encoding gets the catalogue's body too.
    frameworkErrors: (error, request, reply) => answerError(error, request, reply as FastifyReply),
    serverFactory: (handler) =>
      createListener(
        (request, response) => {
          if (!ingress(request, response)) handler(request, response);
        },
        { logger, ...(options.limits ? { limits: options.limits } : {}), tls: options.tls },
      ),
    clientErrorHandler: clientErrorAnswer(logger),
    // Only tells fastify to say https:// in its "Server listening at" line: the server is ours.
    ...(options.tls ? { https: {} } : {}),
  });

  // Whatever another surface registers, the ingress leaves the paths it claims to fastify.
  app.addHook("onRoute", (route) => routes.addForeign(route.url));

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  app.setErrorHandler(answerError);

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody("NOT_FOUND", `nothing is served at ${request.method} ${request.url}`));
  });

  if (guard) {
    guardFastifyRoutes(app, guard);
    registerWellKnown(app, guard);
  }

  // An unknown sink or source is answered before any of the body is read.
  const sinkOf = (request: FastifyRequest) => {
    const { namespace, name } = request.params as { namespace: string; name: string };
    const sink = dataPlane.sink(namespace, name);
    if (!sink) throw new HttpError("NOT_FOUND", `sink ${namespace}/${name} does not exist`);
    return sink;
  };
  const sourceOf = (request: FastifyRequest) => {
    const { namespace, name } = request.params as { namespace: string; name: string };
    const source = dataPlane.webhook(namespace, name);
    if (!source) throw new HttpError("NOT_FOUND", `source ${namespace}/${name} does not exist`);
    return source;
  };

  const sinkRoute = {
    // Sinks take what brokers deliver, whose ingress limit an annotation may raise.
    bodyLimit: SINK_BODY_LIMIT,
    onRequest: async (request: FastifyRequest) => void sinkOf(request),
  };
  app.post("/sinks/:namespace/:name", sinkRoute, async (request, reply) => {
    const sink = sinkOf(request);
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const headers: Record<string, string> = {};
    // A batch hands its events on one by one; the answer carries the last one's headers.
    for (const event of decodeHttpRequest(request.headers, body).events) {
      Object.assign(headers, (await sink.receive(event))?.headers);
    }
    reply.code(202).headers(headers).send();
  });

  // Knative's JobSink answers a POST with this path in `Location`; a GET says how the job went:
  // 202 running, 200 `Reason: Complete`, 400 `Reason: Failed`.
  const jobRoute = {
    // As Knative's JobSink (since eventing 1.16): with authentication on, asking how a job went
    // needs a token for the JobSink's audience whose sender its EventPolicies allow.
    onRequest: async (request: FastifyRequest) => {
      const { namespace, name } = request.params as { namespace: string; name: string };
      const admitted = await admit(guard, `/sinks/${namespace}/${name}`, request.headers);
      if (admitted !== undefined) guard!.authorize(admitted.address, admitted.token, []);
    },
  };
  app.get(
    "/namespaces/:namespace/name/:name/sources/:source/ids/:id",
    jobRoute,
    async (request, reply) => {
      const { namespace, name, source, id } = request.params as Record<string, string>;
      const status = dataPlane.sink(namespace!, name!)?.job?.(source!, id!);
      if (!status) {
        throw new HttpError("NOT_FOUND", `no job of JobSink ${namespace}/${name} for that event`);
      }
      if (status.state === "failed") {
        throw new HttpError("JOB_FAILED", `job ${status.job} failed`, { reason: "Failed" });
      }
      const body = { job: status.job, state: status.state };
      if (status.state === "succeeded") reply.code(200).header("reason", "Complete").send(body);
      else reply.code(202).header("location", status.location).send(body);
    },
  );

  app.register(exchangeRoutes({ dataPlane, logger }));

  const sourceRoute = {
    bodyLimit: MAX_WEBHOOK_BODY_LIMIT,
    onRequest: async (request: FastifyRequest) => {
      const source = sourceOf(request);
      const declared = Number(request.headers["content-length"]);
      if (declared > source.bodyLimit) {
        throw new HttpError("PAYLOAD_TOO_LARGE", `request body exceeds ${source.bodyLimit} bytes`);
      }
    },
  };
  app.post("/sources/:namespace/:name", sourceRoute, async (request, reply) => {
    const source = sourceOf(request);
    const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    if (body.length > source.bodyLimit) {
      throw new HttpError("PAYLOAD_TOO_LARGE", `request body exceeds ${source.bodyLimit} bytes`);
    }
    const answer = webhookReply(await source.handle({ headers: request.headers, body }));
    reply.code(answer.status).send(answer.body);
  });

  if (options.api) registerApi(app, options.api);
  if (options.console) registerConsole(app, options.console.root);

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const checks = await dataPlane.readiness();
    const ready = Object.values(checks).every(Boolean);
    reply.code(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
  });

  app.get("/metrics", async (_request, reply) => {
    reply
      .header("content-type", metrics.registry.contentType)
      .send(await metrics.registry.metrics());
  });

  return app;
}
