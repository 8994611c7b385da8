/**
 * `GET /api/v1/tail` (CONTRACT §11): the tail bus as Server-Sent Events. Each connection reads
 * its own bounded queue and writes only while the socket drains, so a reader that stops reading
 * costs a fixed amount of memory and is later told how many messages it lost.
 */
import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest } from "fastify";
import { encodeStructured } from "../events/json-format.js";
import {
  DEFAULT_TAIL_CAPACITY,
  type TailBus,
  type TailEntry,
  type TailReader,
  type TailSelection,
} from "../operations/tail-bus.js";
import type { VerifiedToken } from "../security/token-verifier.js";
import { compileCesqlPredicate } from "../triggers/cesql-filter.js";
import { HttpError } from "./errors.js";

export interface TailRouteOptions {
  readonly bus: TailBus;
  /** Between two `:` comments that keep proxies from closing an idle stream; default 15 s. */
  readonly heartbeatMs?: number;
  /** Messages one reader may have waiting; default DEFAULT_TAIL_CAPACITY. */
  readonly capacity?: number;
  /** The verified token a request came with (authentication on). */
  readonly tokenOf?: (request: FastifyRequest) => VerifiedToken | undefined;
}

/** setTimeout's largest delay (about 24.8 days); a token lasting longer is cut then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One Server-Sent Events message; `data` spread over `data:` lines, as the format needs. */
export function formatSse(event: string, data: string): string {
  return `event: ${event}\ndata: ${data.replace(/\r\n|\r|\n/g, "\ndata: ")}\n\n`;
}

function formatEntry(entry: TailEntry): string {
  switch (entry.type) {
    case "cloudevent":
      return formatSse("cloudevent", encodeStructured(entry.event));
    case "outcome":
      return formatSse("outcome", JSON.stringify(entry.outcome));
    case "dropped":
      return formatSse("dropped", JSON.stringify({ count: entry.count }));
  }
}

/** A query parameter given once, as text; repeated or absent: undefined or a 400. */
function queryText(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string") {
    throw new HttpError("INVALID_FILTER", `${name}: give it once, as text`);
  }
  return value;
}

/** The reader's selection from the query; a CESQL expression that does not compile is a 400. */
export function tailSelection(query: Record<string, unknown>): TailSelection {
  const namespace = queryText(query, "namespace");
  const broker = queryText(query, "broker");
  const filter = queryText(query, "filter");
  let matches: TailSelection["matches"];
  if (filter !== undefined && filter !== "") {
    try {
      matches = compileCesqlPredicate(filter);
    } catch (error) {
      throw new HttpError(
        "INVALID_FILTER",
        `filter: ${(error as Error).message.replace(/^invalid CESQL expression: /, "")}`,
      );
    }
  }
  return {
    ...(namespace ? { namespace } : {}),
    ...(broker ? { broker } : {}),
    ...(matches ? { matches } : {}),
  };
}

/** Writes the reader's queue to the response, pausing whenever the socket is full. */
function pump(reader: TailReader, response: ServerResponse, heartbeatMs: number): () => void {
  let waitingForDrain = false;
  let scheduled = false;
  let closed = false;
  const flush = () => {
    scheduled = false;
    if (closed || waitingForDrain) return;
    for (let entry = reader.take(); entry !== undefined; entry = reader.take()) {
      if (!response.write(formatEntry(entry))) {
        waitingForDrain = true;
        response.once("drain", () => {
          waitingForDrain = false;
          flush();
        });
        return;
      }
    }
  };
  // Messages published in the same turn go out together.
  reader.onReadable = () => {
    if (scheduled || waitingForDrain) return;
    scheduled = true;
    setImmediate(flush);
  };
  const heartbeat = setInterval(() => {
    // A stream with unsent bytes is not idle.
    if (!waitingForDrain) response.write(": keep-alive\n\n");
  }, heartbeatMs);
  heartbeat.unref();
  return () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    reader.close();
  };
}

/** The tail route, relative to `/api/v1` (registerApi's hook has checked the token). */
export function tailRoutes(options: TailRouteOptions): FastifyPluginCallback {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const capacity = options.capacity ?? DEFAULT_TAIL_CAPACITY;
  const open = new Set<ServerResponse>();
  return (app: FastifyInstance, _opts, done) => {
    app.get("/tail", async (request, reply) => {
      const selection = tailSelection(request.query as Record<string, unknown>);
      const response = reply.raw;
      reply.hijack();
      response.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        // Proxies such as nginx would otherwise hold the stream back in their buffers.
        "x-accel-buffering": "no",
      });
      // Sends the headers now: a client waits for them before it reads any message.
      response.write(": tail open\n\n");
      const reader = options.bus.open(selection, capacity);
      const stop = pump(reader, response, heartbeatMs);
      open.add(response);
      // A stream outlives no token: it ends when the one that opened it expires, and the client
      // opens it again with a fresh one.
      const token = options.tokenOf?.(request);
      const expiry =
        token === undefined
          ? undefined
          : setTimeout(
              () => {
                response.write(
                  formatSse("expired", JSON.stringify({ reason: "the token expired" })),
                );
                response.end();
              },
              Math.min(MAX_TIMER_MS, Math.max(0, token.exp * 1000 - Date.now())),
            );
      expiry?.unref();
      response.once("close", () => {
        clearTimeout(expiry);
        open.delete(response);
        stop();
      });
    });
    // A tail never ends by itself: without this, closing the server would wait for every reader.
    app.addHook("preClose", (hookDone) => {
      // One that does not read could never finish its last bytes: cut it.
      for (const response of open) {
        if (response.writableNeedDrain) response.destroy();
        else response.end();
      }
      hookDone();
    });
    done();
  };
}
