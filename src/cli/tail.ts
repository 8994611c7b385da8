/**
 * `eventail tail`: reads `GET /api/v1/tail` (CONTRACT §11) and prints one line per event, with
 * the outcomes of its deliveries indented under the stream as they come.
 */

import type { Writable } from "node:stream";
import { defaultServer } from "./api-client.js";
import { type SseMessage, SseParser } from "./sse-parser.js";

export interface TailOptions {
  namespace?: string;
  broker?: string;
  filter?: string;
  /** Base URL of the server; default $EVENTAIL_SERVER, else http://127.0.0.1:$PORT (8080). */
  server?: string;
  /** Bearer token for the operations API where authentication is on; default $EVENTAIL_TOKEN. */
  token?: string;
}

export function tailUrl(options: TailOptions): URL {
  const base = options.server ?? defaultServer();
  const url = new URL("/api/v1/tail", base);
  if (options.namespace) url.searchParams.set("namespace", options.namespace);
  if (options.broker) url.searchParams.set("broker", options.broker);
  if (options.filter) url.searchParams.set("filter", options.filter);
  return url;
}

function text(value: unknown): string {
  return value === undefined || value === null ? "-" : String(value);
}

/** The line printed for one message of the stream; undefined for what is not shown. */
export function tailLine(message: SseMessage): string | undefined {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(message.data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  switch (message.event) {
    case "cloudevent": {
      const time = data["time"] ?? data["knativearrivaltime"];
      return `${text(time)}  ${text(data["type"])}  ${text(data["source"])}  ${text(data["id"])}`;
    }
    case "outcome": {
      const status = data["status"] === undefined ? "" : ` ${text(data["status"])}`;
      const attempt = Number(data["attempt"]) > 0 ? ` (attempt ${text(data["attempt"])})` : "";
      return `    ${text(data["kind"])}/${text(data["name"])} ${text(data["outcome"])}${status}${attempt}  ${text(data["source"])}  ${text(data["id"])}`;
    }
    case "dropped":
      return `!   ${text(data["count"])} messages dropped: this reader fell behind`;
    default:
      return undefined;
  }
}

/** Runs until the server ends the stream or the signal fires; returns the exit code. */
export async function tailCommand(
  options: TailOptions,
  out: Writable = process.stdout,
  err: Writable = process.stderr,
  signal?: AbortSignal,
): Promise<number> {
  let url: URL;
  try {
    url = tailUrl(options);
  } catch {
    err.write(`eventail tail: --server must be a URL, not ${options.server}\n`);
    return 2;
  }
  const token = options.token ?? process.env["EVENTAIL_TOKEN"];
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (token) headers["authorization"] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(url, { headers, ...(signal ? { signal } : {}) });
  } catch (error) {
    if (signal?.aborted) return 0;
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    err.write(
      `eventail tail: cannot reach ${url.origin}: ${cause?.code ?? cause?.message ?? (error as Error).message}\n`,
    );
    return 1;
  }
  if (!response.ok || response.body === null) {
    const body = await response.text().catch(() => "");
    let reason = body;
    try {
      reason = (JSON.parse(body) as { error?: string }).error ?? body;
    } catch {
      // Not our JSON error shape: print it as it came.
    }
    err.write(`eventail tail: ${response.status} ${reason}\n`);
    return response.status === 400 ? 2 : 1;
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  let expired = false;
  try {
    for await (const chunk of response.body) {
      for (const message of parser.push(decoder.decode(chunk, { stream: true }))) {
        if (message.event === "expired") expired = true;
        const line = tailLine(message);
        if (line !== undefined) out.write(`${line}\n`);
      }
    }
  } catch (error) {
    if (signal?.aborted) return 0;
    err.write(`eventail tail: the stream broke: ${(error as Error).message}\n`);
    return 1;
  }
  if (expired) {
    err.write("eventail tail: the token expired; run it again with a fresh one\n");
    return 1;
  }
  return 0;
}
