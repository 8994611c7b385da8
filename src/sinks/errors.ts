/**
 * A sink that cannot take events as configured (a JobSink whose container has no command to run
 * standalone, a job that would not start). server/ answers 503 SINK_UNAVAILABLE: senders retry and
 * then dead-letter, so the event is kept somewhere rather than dropped.
 */
export class SinkUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SinkUnavailableError";
  }
}
