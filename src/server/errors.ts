/**
 * The one catalogue of errors the HTTP surfaces answer with. Every error body is
 * `{"error": "<human sentence>", "code": "<STABLE_CODE>"}` (CONTRACT §3).
 */
export const ERRORS = {
  INVALID_EVENT: 400,
  TTL_EXHAUSTED: 400,
  BAD_SIGNATURE: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_FORMAT: 415,
  OVER_CAPACITY: 429,
  INTERNAL: 500,
  /** A webhook source could not hand the event to its sink: the sender should redeliver. */
  SINK_FAILED: 502,
  BACKING_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
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
