import { EventEmitter } from "node:events";
import type { IncomingHttpHeaders } from "node:http";
import type { Agent } from "undici";

/**
 * One HTTP POST to a subscriber: per-attempt timeout (response body included), cancellation,
 * and a bounded read of the response body so a large or endless error body costs little.
 */

/** Why an attempt got no usable response. */
export type AttemptError =
  /** Connection refused or reset, DNS failure, protocol error: worth retrying. */
  | "error"
  | "timeout"
  /** The abort signal fired. */
  | "shutdown"
  /** The request could not be built (bad URL, illegal header value): retrying cannot help. */
  | "invalid-request";

export interface AttemptResult {
  /** The HTTP status; undefined when no response came back. */
  status?: number;
  error?: AttemptError;
  /** The error's message, for logs. */
  message?: string;
  headers: IncomingHttpHeaders;
  /** Up to the kept limit of the body (a reply in full, an error body's start). */
  body: Buffer;
  /** The body was longer than what was kept. */
  truncated: boolean;
}

export interface AttemptTarget {
  origin: string;
  path: string;
}

export interface AttemptRequest {
  headers: Record<string, string>;
  body: Buffer | undefined;
}

export interface AttemptLimits {
  timeoutMs: number;
  /** Bytes read in all before the connection is cut instead of drained for reuse. */
  drainBytes: number;
  /** Bytes of the body worth keeping for this response (0: drain it unread). */
  keepBytes: (status: number, headers: IncomingHttpHeaders) => number;
}

/** Registers a cancel callback (shutdown) until the returned function is called. */
export type WatchCancel = (cancel: () => void) => () => void;

const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});
const EMPTY = Buffer.alloc(0);

class AttemptAborted extends Error {
  constructor(readonly why: "timeout" | "shutdown") {
    super(`attempt aborted (${why})`);
  }
}

const TIMEOUT = new AttemptAborted("timeout");
const SHUTDOWN = new AttemptAborted("shutdown");

/**
 * undici takes an EventEmitter as its abort signal. An AbortController costs an EventTarget per
 * attempt, which is measurable at subscriber rates; this is one small object.
 */
class AttemptSignal extends EventEmitter {
  aborted = false;
  reason: AttemptAborted | undefined;

  abort(reason: AttemptAborted): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.emit("abort");
  }
}

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function failure(error: AttemptError, message: string, status?: number): AttemptResult {
  return { status, error, message, headers: NO_HEADERS, body: EMPTY, truncated: false };
}

async function readBounded(
  body: AsyncIterable<Buffer> & { destroy(): unknown },
  keepBytes: number,
  drainBytes: number,
): Promise<{ body: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (kept < keepBytes) {
      const part = chunk.length <= keepBytes - kept ? chunk : chunk.subarray(0, keepBytes - kept);
      chunks.push(part);
      kept += part.length;
    }
    if (total > drainBytes) {
      body.destroy();
      break;
    }
  }
  const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, kept);
  return { body: data, truncated: total > kept };
}

/** Sends one request and reads its response. Never throws: every failure is an AttemptResult. */
export async function attempt(
  agent: Agent,
  target: AttemptTarget,
  request: AttemptRequest,
  limits: AttemptLimits,
  watch: WatchCancel,
): Promise<AttemptResult> {
  const signal = new AttemptSignal();
  const unwatch = watch(() => signal.abort(SHUTDOWN));
  if (signal.aborted) return failure("shutdown", "delivery aborted");
  const timer = setTimeout(() => signal.abort(TIMEOUT), limits.timeoutMs);
  let status: number | undefined;
  try {
    const response = await agent.request({
      origin: target.origin,
      path: target.path,
      method: "POST",
      headers: request.headers,
      body: request.body ?? null,
      signal,
      headersTimeout: limits.timeoutMs,
      bodyTimeout: limits.timeoutMs,
    });
    status = response.statusCode;
    const headers = response.headers as IncomingHttpHeaders;
    const keepBytes = limits.keepBytes(status, headers);
    if (keepBytes === 0) {
      await response.body.dump({ limit: limits.drainBytes });
      return { status, headers, body: EMPTY, truncated: false };
    }
    const { body, truncated } = await readBounded(response.body, keepBytes, limits.drainBytes);
    return { status, headers, body, truncated };
  } catch (error) {
    const reason = signal.reason;
    const code = (error as { code?: string }).code ?? "";
    if (reason === SHUTDOWN) return failure("shutdown", "delivery aborted", status);
    if (reason === TIMEOUT || TIMEOUT_CODES.has(code)) {
      return failure("timeout", `no complete response within ${limits.timeoutMs} ms`, status);
    }
    if (code === "UND_ERR_INVALID_ARG") return failure("invalid-request", (error as Error).message);
    return failure("error", (error as Error).message, status);
  } finally {
    clearTimeout(timer);
    unwatch();
  }
}
