/**
 * `POST /api/v1/replay` and `GET /api/v1/replay/{id}` (CONTRACT §11): start a replay of a
 * broker's archived events (202 with its id), then follow it.
 */
import type { FastifyInstance } from "fastify";
import {
  ReplayRefusedError,
  type ReplayRequest,
  type ReplayService,
} from "../operations/replay.js";
import type { ApiDeps } from "./api.js";
import { HttpError } from "./errors.js";

export type ReplayControl = Pick<ReplayService, "start" | "status">;

const FIELDS = ["namespace", "broker", "from", "to", "trigger", "filter"] as const;
const REQUIRED = new Set(["namespace", "broker", "from"]);

/** Routes relative to `/api/v1`; the API's hook has checked the token (admin for POST). */
export function replayRoutes(api: FastifyInstance, deps: ApiDeps): void {
  const { replay } = deps;
  if (!replay) return;
  api.post("/replay", async (request, reply) => {
    const body = readRequest(request.body);
    let id: string;
    try {
      id = replay.start(body);
    } catch (error) {
      if (!(error instanceof ReplayRefusedError)) throw error;
      throw new HttpError(
        error.reason === "not-found" ? "NOT_FOUND" : "INVALID_REQUEST",
        error.message,
      );
    }
    reply.code(202).send({ id });
  });
  api.get("/replay/:id", async (request, reply) => {
    const { id } = request.params as { id: string };
    const status = await replay.status(id);
    if (status === undefined) throw new HttpError("NOT_FOUND", `no replay ${JSON.stringify(id)}`);
    reply.code(200).send(status);
  });
}

/** The server takes every body as bytes (ingress needs them raw), so JSON is parsed here. */
function readRequest(raw: unknown): ReplayRequest {
  let body: unknown = raw;
  if (Buffer.isBuffer(raw)) {
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new HttpError("INVALID_REQUEST", "the body must be a JSON object");
    }
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError("INVALID_REQUEST", "the body must be a JSON object");
  }
  const given = body as Record<string, unknown>;
  const request: Record<string, string> = {};
  for (const field of FIELDS) {
    const value = given[field];
    if (value === undefined) {
      if (REQUIRED.has(field)) throw new HttpError("INVALID_REQUEST", `${field}: required`);
      continue;
    }
    if (typeof value !== "string" || (REQUIRED.has(field) && value === "")) {
      throw new HttpError("INVALID_REQUEST", `${field}: must be a non-empty string`);
    }
    request[field] = value;
  }
  return request as unknown as ReplayRequest;
}
