/**
 * The dead-letter store's routes (CONTRACT §11), relative to `/api/v1`; the API's hook has
 * checked the token (reading: any API token; redrive: the admin claim too).
 * `GET /deadletters?namespace=NS[&limit=N]` answers `{"items": [...]}`;
 * `POST /deadletters/redrive` `{"namespace", "entryIds"?, "filter"?, "to"?, "fromBroker"?}`
 * answers `{"redriven", "failed"}`.
 */
import type { FastifyInstance } from "fastify";
import type { DeadLetterJson, RedriveRequest, RedriveResult } from "../operations/dead-letters.js";
import { RedriveRefusedError } from "../operations/redrive-from-broker.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import type { ApiDeps } from "./api.js";
import { HttpError } from "./errors.js";

export interface DeadLetterSource {
  list(namespace: string, limit: number): Promise<DeadLetterJson[]>;
  redrive(request: RedriveRequest): Promise<RedriveResult>;
}

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;
/** A redrive request names entries and a filter: nothing near an event's size. */
const REDRIVE_BODY_LIMIT = 1024 * 1024;
/** Namespaces as Kubernetes names them (they also become Redis key parts). */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const BROKER_REF = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/;

function namespaceOf(value: unknown, where: string): string {
  if (typeof value !== "string" || !NAMESPACE.test(value)) {
    throw new HttpError("INVALID_URL", `${where}: give the namespace (a Kubernetes name)`);
  }
  return value;
}

export function deadLetterRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { deadLetters } = deps;
  if (!deadLetters) return;
  api.get("/deadletters", async (request) => {
    const query = request.query as Record<string, unknown>;
    const namespace = namespaceOf(query["namespace"], "query parameter namespace");
    let limit = DEFAULT_LIMIT;
    if (query["limit"] !== undefined) {
      limit = Number(query["limit"]);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw new HttpError("INVALID_URL", `query parameter limit: 1 to ${MAX_LIMIT}`);
      }
    }
    return { items: await deadLetters.list(namespace, limit) };
  });
  api.post("/deadletters/redrive", { bodyLimit: REDRIVE_BODY_LIMIT }, async (request) => {
    const body = parseBody(request.body);
    const namespace = namespaceOf(body["namespace"], "namespace");
    const entryIds = body["entryIds"];
    if (
      entryIds !== undefined &&
      !(Array.isArray(entryIds) && entryIds.every((id) => typeof id === "string"))
    ) {
      throw new HttpError("INVALID_EVENT", "entryIds: a list of entry ids");
    }
    const filter = body["filter"];
    if (filter !== undefined && typeof filter !== "string") {
      throw new HttpError("INVALID_FILTER", "filter: a CESQL expression");
    }
    const to = body["to"];
    if (to !== undefined && (typeof to !== "object" || to === null || Array.isArray(to))) {
      throw new HttpError("INVALID_EVENT", "to: a Destination ({uri} or {ref})");
    }
    const fromBroker = body["fromBroker"];
    if (fromBroker !== undefined) {
      if (typeof fromBroker !== "string" || !BROKER_REF.test(fromBroker)) {
        throw new HttpError("INVALID_REQUEST", "fromBroker: NAMESPACE/NAME of a Broker");
      }
      if (entryIds !== undefined || to !== undefined) {
        // Archived events have no entry ids, and each goes back to its own knativeerrordest.
        throw new HttpError("INVALID_REQUEST", "fromBroker takes neither entryIds nor to");
      }
    }
    if (filter !== undefined) {
      try {
        compileCesqlPredicate(filter);
      } catch (error) {
        throw new HttpError("INVALID_FILTER", (error as Error).message);
      }
    }
    try {
      return await deadLetters.redrive({
        namespace,
        ...(entryIds === undefined ? {} : { entryIds: entryIds as string[] }),
        ...(filter === undefined ? {} : { filter }),
        ...(to === undefined ? {} : { to }),
        ...(fromBroker === undefined ? {} : { fromBroker: fromBroker as string }),
      });
    } catch (error) {
      if (!(error instanceof RedriveRefusedError)) throw error;
      throw new HttpError(
        error.reason === "not-found" ? "NOT_FOUND" : "INVALID_REQUEST",
        error.message,
      );
    }
  });
}

function parseBody(raw: unknown): Record<string, unknown> {
  const text = Buffer.isBuffer(raw) ? raw.toString("utf8") : typeof raw === "string" ? raw : "";
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError("INVALID_EVENT", "the request body must be a JSON object");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError("INVALID_EVENT", "the request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}
