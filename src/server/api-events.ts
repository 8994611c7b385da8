/**
 * `GET /api/v1/events/{namespace}/{id}[?source=S]`: an event's journey (CONTRACT §11). 404 when
 * the event is unknown (or journeys are off), 409 listing the sources when the id came with
 * several and no `?source` picks one.
 */
import type { FastifyInstance } from "fastify";
import type { JourneyLookup } from "../operations/journeys.js";
import type { ApiDeps } from "./api.js";
import { errorBody, HttpError } from "./errors.js";

export interface JourneySource {
  lookup(namespace: string, id: string, source?: string): Promise<JourneyLookup>;
}

/** Routes relative to `/api/v1`; the API's hook has checked the token already. */
export function eventRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { journeys } = deps;
  if (!journeys) return;
  api.get("/events/:namespace/:id", async (request, reply) => {
    const { namespace, id } = request.params as { namespace: string; id: string };
    const query = request.query as Record<string, unknown>;
    const source = query["source"];
    if (source !== undefined && typeof source !== "string") {
      throw new HttpError("INVALID_URL", "query parameter source: give it once");
    }
    const found = await journeys.lookup(namespace, id, source);
    if (found.kind === "unknown") {
      const what = source === undefined ? "" : ` from source ${JSON.stringify(source)}`;
      throw new HttpError(
        "NOT_FOUND",
        `no journey of event ${JSON.stringify(id)}${what} in namespace ${namespace}`,
      );
    }
    if (found.kind === "ambiguous") {
      const message = `event id ${JSON.stringify(id)} came from ${found.sources.length} sources (${found.sources.join(", ")}): pick one with ?source=`;
      reply.code(409).send({ ...errorBody("AMBIGUOUS_EVENT_ID", message), sources: found.sources });
      return;
    }
    reply.code(200).send(found.journey);
  });
}
