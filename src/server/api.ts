/**
 * The operations API (CONTRACT §11) under `/api/v1`: one encapsulated fastify plugin whose hook
 * applies the guard of CONTRACT §10 to every route in it — with authentication on, reading needs
 * a token for `eventail:api`, anything else (redrive, replay) the admin claim too.
 */
import type { FastifyInstance } from "fastify";
import type { ResourceStatusReader } from "../resources/status.js";
import { type ApiGuardDeps, guardApiRequest } from "../security/api-guard.js";
import type { VerifiedToken } from "../security/token-verifier.js";
import { type DeadLetterSource, deadLetterRoutes } from "./api-deadletters.js";
import { type EventTypeSource, eventTypeRoutes } from "./api-event-types.js";
import { eventRoutes, type JourneySource } from "./api-events.js";
import { type ReplayControl, replayRoutes } from "./api-replay.js";
import { resourceRoutes } from "./api-resources.js";
import { type TailRouteOptions, tailRoutes } from "./api-tail.js";

export const API_PREFIX = "/api/v1";

/** The verified token of each API request (authentication on): a tail ends when it expires. */
const apiTokens = new WeakMap<object, VerifiedToken>();

export interface ApiDeps {
  readonly guard: ApiGuardDeps;
  /** Every resource with its status (the runtime's StatusBook). */
  readonly resources: ResourceStatusReader;
  /** Where each accepted event went; absent when journeys are off (404 then). */
  readonly journeys?: JourneySource;
  /** The live tail's bus; absent: no /tail route. */
  readonly tail?: TailRouteOptions;
  /** The dead-letter store; absent: no /deadletters routes. */
  readonly deadLetters?: DeadLetterSource;
  /** The EventType registry; absent: no /eventtypes route. */
  readonly eventTypes?: EventTypeSource;
  /** Replays of archived events (CONTRACT §11); absent: no /replay routes. */
  readonly replay?: ReplayControl;
}

/** One surface of the API: registers its routes, relative to `/api/v1`. */
export type ApiRoutes = (api: FastifyInstance, deps: ApiDeps) => void;

/** Every surface of the API; add a row per surface. */
const SURFACES: readonly ApiRoutes[] = [
  resourceRoutes,
  eventRoutes,
  deadLetterRoutes,
  (api, deps) => {
    if (deps.tail) {
      api.register(tailRoutes({ ...deps.tail, tokenOf: (request) => apiTokens.get(request) }));
    }
  },
  eventTypeRoutes,
  replayRoutes,
];

export function registerApi(app: FastifyInstance, deps: ApiDeps): void {
  app.register(
    async (api) => {
      api.addHook("onRequest", async (request) => {
        const reading = request.method === "GET" || request.method === "HEAD";
        const token = await guardApiRequest(
          deps.guard,
          request.headers.authorization,
          reading ? "read" : "admin",
        );
        if (token !== undefined) apiTokens.set(request, token);
      });
      for (const routes of SURFACES) routes(api, deps);
    },
    { prefix: API_PREFIX },
  );
}
