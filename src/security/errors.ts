/**
 * The security domain's refusals; server/errors.ts maps them to CONTRACT §10's statuses. Their
 * messages never quote a token.
 */

/** No usable token: 401. `tokenGiven` picks RFC 6750's `error="invalid_token"`. */
export class AuthenticationError extends Error {
  constructor(
    message: string,
    readonly tokenGiven: boolean,
  ) {
    super(message);
    this.name = "AuthenticationError";
  }
}

/** A valid token whose subject may not do this: 403. */
export class AuthorizationError extends Error {
  constructor(
    message: string,
    readonly subject: string,
    /** The refused event's id, source and type, for the log line. */
    private readonly eventFields: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = "AuthorizationError";
  }

  /** What the one log line of the refusal carries besides the reason. */
  get logFields(): Record<string, unknown> {
    return { ...this.eventFields, sub: this.subject };
  }
}
