/**
 * `GET /api/v1/eventtypes[?namespace=NS]` (CONTRACT §11): declared EventTypes and those created on
 * first sight, with counts and schemas, as `eventail get eventtypes` and codegen read them.
 */
import type { FastifyInstance } from "fastify";
import type { ApiDeps } from "./api.js";

/** The EventType registry as the API reads it. */
export interface EventTypeSource {
  list(namespace?: string): Promise<Record<string, unknown>[]>;
}

export function eventTypeRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const registry = deps.eventTypes;
  if (registry === undefined) return;
  api.get("/eventtypes", async (request) => {
    const query = request.query as { namespace?: unknown };
    const namespace =
      typeof query.namespace === "string" && query.namespace !== "" ? query.namespace : undefined;
    const items = await registry.list(namespace);
    // A declared EventType's status is the StatusBook's, like every other resource's.
    for (const item of items) {
      const metadata = item["metadata"] as { namespace: string; name: string };
      const known = deps.resources.get("EventType", metadata.namespace, metadata.name);
      if (known !== undefined) {
        item["status"] = known.status;
        item["metadata"] = { ...metadata, creationTimestamp: known.firstSeen };
      }
    }
    return { items };
  });
}
