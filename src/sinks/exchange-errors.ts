/**
 * Why an EventTransform or a RequestReply could not answer an event; server/ maps each to its
 * status and stable code (server/errors.ts).
 */

/** An expression failed on the event, or its result is not a CloudEvent: the sender's event. */
export class TransformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TransformError";
  }
}

/** The sink did not take the transformed event; the sender should try again. */
export class SinkFailedError extends Error {
  constructor(
    message: string,
    /** The sink's own `Retry-After`, passed on so the sender waits as long. */
    readonly retryAfter?: string,
  ) {
    super(message);
    this.name = "SinkFailedError";
  }
}

/** No reply carried the request's correlation id within the RequestReply's timeout. */
export class ReplyTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no reply within ${timeoutMs} ms`);
    this.name = "ReplyTimeoutError";
  }
}

/** The RequestReply stopped (deleted, or the process is shutting down) while a request waited. */
export class ReplyAbandonedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ReplyAbandonedError";
  }
}
