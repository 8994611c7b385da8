/**
 * One HTTP POST to a subscriber: per-attempt timeout (response body included), cancellation,
 * and a bounded read of the response body so a large or endless error body costs little.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Dispatcher } from "undici";

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
  /** https: TLS, verified. */
  secure: boolean;
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
/** Cuts a connection whose response body ran past drainBytes. */
const DRAINED = new Error("response body too long; connection closed");

const TIMEOUT_CODES = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

function failure(error: AttemptError, message: string, status?: number): AttemptResult {
  return { status, error, message, headers: NO_HEADERS, body: EMPTY, truncated: false };
}

/**
 * One attempt on undici's dispatch API. `request()` would wrap every response in a Readable
 * stream, an AsyncResource and a few promises, only for the body to be dumped unread (a 202 to
 * a delivery has none); this handler keeps the bytes the result needs as they arrive and settles
 * once, on the first of: the end of the response, an error, the timeout, shutdown, or the body
 * passing `drainBytes` (then the connection is cut, not drained).
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  /** Why the attempt was cut short, for a request that has not started yet. */
  private reason: AttemptAborted | undefined;
  private settled = false;
  private status: number | undefined;
  private headers: IncomingHttpHeaders = NO_HEADERS;
  private keep = 0;
  private kept = 0;
  private total = 0;
  private chunks: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly limits: AttemptLimits,
    watch: WatchCancel,
    private readonly resolve: (result: AttemptResult) => void,
  ) {
    const unwatch = watch(() => this.abort(SHUTDOWN));
    if (this.settled) {
      unwatch(); // cancelled before it began
      return;
    }
    this.unwatch = unwatch;
    this.timer = setTimeout(() => this.abort(TIMEOUT), limits.timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.reason !== undefined) controller.abort(this.reason);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[]>,
  ): void {
    if (statusCode < 200) return; // 1xx: the final response is still to come
    this.status = statusCode;
    this.headers = headers as IncomingHttpHeaders;
    this.keep = this.limits.keepBytes(statusCode, this.headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) return;
    this.total += chunk.length;
    const room = this.keep - this.kept;
    if (room > 0) {
      const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
      this.chunks.push(part);
      this.kept += part.length;
    }
    if (this.total > this.limits.drainBytes) {
      this.succeed();
      controller.abort(DRAINED);
    }
  }

  onResponseEnd(): void {
    this.succeed();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.settled) return;
    const code = (error as { code?: string }).code ?? "";
    if (TIMEOUT_CODES.has(code)) {
      this.settle(
        failure("timeout", `no complete response within ${this.limits.timeoutMs} ms`, this.status),
      );
    } else if (code === "UND_ERR_INVALID_ARG") {
      this.settle(failure("invalid-request", error.message));
    } else {
      this.settle(failure("error", error.message, this.status));
    }
  }

  private abort(reason: AttemptAborted): void {
    if (this.settled) return;
    this.reason = reason;
    this.settle(
      reason === SHUTDOWN
        ? failure("shutdown", "delivery aborted", this.status)
        : failure(
            "timeout",
            `no complete response within ${this.limits.timeoutMs} ms`,
            this.status,
          ),
    );
    // A request still waiting for a connection is cut when it gets one (onRequestStart).
    this.controller?.abort(reason);
  }

  private succeed(): void {
    if (this.settled) return;
    const chunks = this.chunks;
    const body =
      chunks.length === 0
        ? EMPTY
        : chunks.length === 1
          ? chunks[0]!
          : Buffer.concat(chunks, this.kept);
    this.settle({
      status: this.status,
      headers: this.headers,
      body,
      truncated: this.total > this.kept,
    });
  }

  get isSettled(): boolean {
    return this.settled;
  }

  private settle(result: AttemptResult): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.unwatch?.();
    this.resolve(result);
  }
}

/** Sends one request and reads its response. Never throws: every failure is an AttemptResult. */
export function attempt(
  agent: Dispatcher,
  target: AttemptTarget,
  request: AttemptRequest,
  limits: AttemptLimits,
  watch: WatchCancel,
): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const handler = new AttemptHandler(limits, watch, resolve);
    if (handler.isSettled) return;
    agent.dispatch(
      {
        origin: target.origin,
        path: target.path,
        method: "POST",
        headers: request.headers,
        body: request.body ?? null,
        headersTimeout: limits.timeoutMs,
        bodyTimeout: limits.timeoutMs,
      },
      handler,
    );
  });
}
