/**
 * The one catalogue of errors the HTTP surfaces answer with, and the mapping of domain errors
 * onto it. Every error body is `{"error": "<human sentence>", "code": "<STABLE_CODE>"}`
 * (CONTRACT §3).
 */
import { BackingFullError, BackingUnavailableError } from "../backing/backing.js";
import { SchemaMismatchError } from "../broker/event-type-gate.js";
import { TtlExhaustedError } from "../broker/ttl.js";
import { EventValidationError } from "../events/event.js";
import { UnsupportedFormatError } from "../events/http-binding.js";
import type { Logger } from "../observability/logger.js";
import { AuthenticationError, AuthorizationError } from "../security/errors.js";
import { SinkUnavailableError } from "../sinks/errors.js";
import {
  ReplyAbandonedError,
  ReplyTimeoutError,
  SinkFailedError,
  TransformError,
} from "../sinks/exchange-errors.js";

export const ERRORS = {
  INVALID_EVENT: 400,
  /** A request path that is not valid percent-encoding. */
  INVALID_URL: 400,
  /** Node's HTTP parser refused the bytes (not HTTP/1.1). */
  MALFORMED_REQUEST: 400,
  TTL_EXHAUSTED: 400,
  /** A broker checking schemas: the event's data does not match its EventType's (CONTRACT §11). */
  SCHEMA_MISMATCH: 400,
  /** An EventTransform's expression failed on the event, or its result is not a CloudEvent. */
  TRANSFORM_FAILED: 400,
  /** An operations API query parameter (a CESQL filter) that does not parse. */
  INVALID_FILTER: 400,
  /** An operations API request body that is not what the route takes (a replay's fields). */
  INVALID_REQUEST: 400,
  BAD_SIGNATURE: 401,
  /** No bearer token, or one that does not verify for this address (CONTRACT §10). */
  UNAUTHENTICATED: 401,
  /** A valid token whose subject no EventPolicy (or default mode) lets send this. */
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** GET /api/v1/events/{ns}/{id} without ?source, and the id came with several sources. */
  AMBIGUOUS_EVENT_ID: 409,
  /** Headers or body not complete within --header-timeout/--body-timeout (CONTRACT §10). */
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_FORMAT: 415,
  OVER_CAPACITY: 429,
  /** GET at a JobSink's Location: the job failed (Knative answers 400, `Reason: Failed`). */
  JOB_FAILED: 400,
  /** More than 100 headers or 16 KiB of them (CONTRACT §10). */
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  /** A request field the contract names that this version does not do yet. */
  NOT_IMPLEMENTED: 501,
  /** A webhook source could not hand the event to its sink: the sender should redeliver. */
  SINK_FAILED: 502,
  /** A sink that cannot take events as configured (a JobSink with nothing to run standalone). */
  SINK_UNAVAILABLE: 503,
  BACKING_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  /** A RequestReply saw no reply within its timeout (Knative writes no response at all). */
  REPLY_TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class HttpError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.statusCode = ERRORS[code];
  }
}

export function errorBody(code: ErrorCode, message: string): { error: string; code: ErrorCode } {
  return { error: message, code };
}

/** Maps any error thrown while serving a request to the catalogue's status and JSON body. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof EventValidationError) return new HttpError("INVALID_EVENT", error.message);
  if (error instanceof TtlExhaustedError) return new HttpError("TTL_EXHAUSTED", error.message);
  if (error instanceof SchemaMismatchError) return new HttpError("SCHEMA_MISMATCH", error.message);
  if (error instanceof AuthenticationError) {
    // RFC 6750 §3: a request without credentials gets the bare challenge.
    return new HttpError("UNAUTHENTICATED", error.message, {
      "www-authenticate": error.tokenGiven ? 'Bearer error="invalid_token"' : "Bearer",
    });
  }
  if (error instanceof AuthorizationError) return new HttpError("FORBIDDEN", error.message);
  if (error instanceof UnsupportedFormatError) {
    return new HttpError("UNSUPPORTED_FORMAT", error.message);
  }
  if (error instanceof BackingFullError) {
    return new HttpError("OVER_CAPACITY", `${error.message}; retry later`, {
      "retry-after": String(error.retryAfterSeconds),
    });
  }
  if (error instanceof SinkUnavailableError)
    return new HttpError("SINK_UNAVAILABLE", error.message);
  if (error instanceof BackingUnavailableError) {
    return new HttpError("BACKING_UNAVAILABLE", `backing unavailable: ${error.message}`, {
      "retry-after": "1",
    });
  }
  if (error instanceof TransformError) return new HttpError("TRANSFORM_FAILED", error.message);
  if (error instanceof SinkFailedError) {
    const headers: Record<string, string> = error.retryAfter
      ? { "retry-after": error.retryAfter }
      : {};
    return new HttpError("SINK_FAILED", error.message, headers);
  }
  if (error instanceof ReplyTimeoutError) return new HttpError("REPLY_TIMEOUT", error.message);
  if (error instanceof ReplyAbandonedError) {
    return new HttpError("SHUTTING_DOWN", error.message, { "retry-after": "1" });
  }
  const fastifyError = error as { code?: string; statusCode?: number; message?: string };
  if (fastifyError.code === "FST_ERR_BAD_URL") {
    return new HttpError("INVALID_URL", fastifyError.message ?? "invalid URL");
  }
  if (fastifyError.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    return new HttpError("PAYLOAD_TOO_LARGE", "request body too large");
  }
  if (fastifyError.statusCode === 413) {
    return new HttpError("PAYLOAD_TOO_LARGE", fastifyError.message ?? "request body too large");
  }
  if (fastifyError.statusCode === 415) {
    return new HttpError("UNSUPPORTED_FORMAT", fastifyError.message ?? "unsupported media type");
  }
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
    return new HttpError("INVALID_EVENT", fastifyError.message ?? "bad request");
  }
  return new HttpError("INTERNAL", "internal error");
}

/**
 * The one log line of a rejected request: a warning naming the reason, or an error with the
 * stack for a failure of our own (INTERNAL).
 */
export function logRejection(
  logger: Logger,
  error: unknown,
  httpError: HttpError,
  fields: Record<string, unknown>,
): void {
  const extra = (error as { logFields?: Record<string, unknown> } | undefined)?.logFields;
  const line = { ...fields, ...extra, code: httpError.code };
  if (httpError.statusCode >= 500 && httpError.code === "INTERNAL") {
    logger.error({ ...line, err: error }, "request failed");
  } else {
    logger.warn({ ...line, reason: httpError.message }, "request rejected");
  }
}
