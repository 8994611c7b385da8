/**
 * Microseconds on the monotonic clock. libuv reads CLOCK_MONOTONIC, which every process on the
 * machine shares, so a timestamp taken by the load generator can be subtracted in the sink.
 */
export function nowUs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e6 + Math.floor(nanoseconds / 1e3);
}

/** Headers the load generator adds to every event (CloudEvents extensions, so brokers keep them). */
export const PHASE_HEADER = "ce-benchphase";
export const SENT_HEADER = "ce-benchsent";
