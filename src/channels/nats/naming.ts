import { createHash } from "node:crypto";

/**
 * Maps Eventail stream and consumer names (`broker.default.default`, `trigger.ns.name`: lower-case
 * DNS labels joined by dots) to JetStream names. The mapping is a pure function of the name, so
 * every process pointed at the same engine arrives at the same stream, subject and durable.
 */

const DOTTED_LABELS = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/;

/** Longer names are cut and suffixed with a hash: JetStream keeps them as directory names. */
const MAX_NAME_LENGTH = 128;
const HASH_LENGTH = 16;

function checkDottedLabels(value: string, field: string): void {
  if (!DOTTED_LABELS.test(value)) {
    throw new Error(
      `${field} ${JSON.stringify(value)} must be lower-case DNS labels (a-z, 0-9, -) joined by dots`,
    );
  }
}

/** Dots become underscores: labels never hold `_`, so no two names meet. */
function flatten(value: string): string {
  const flat = value.replaceAll(".", "_");
  if (flat.length <= MAX_NAME_LENGTH) return flat;
  const digest = createHash("sha256").update(value).digest("hex").slice(0, HASH_LENGTH);
  return `${flat.slice(0, MAX_NAME_LENGTH - HASH_LENGTH - 1)}_${digest}`;
}

/** `broker.default.default` → `EVENTAIL_broker_default_default`. */
export function jetStreamName(stream: string): string {
  checkDottedLabels(stream, "stream");
  return flatten(`EVENTAIL.${stream}`);
}

/** `broker.default.default` → `eventail.broker.default.default` (the stream's only subject). */
export function jetStreamSubject(stream: string): string {
  checkDottedLabels(stream, "stream");
  return `eventail.${stream}`;
}

/** `trigger.default.my-trigger` → `trigger_default_my-trigger`. */
export function durableName(consumer: string): string {
  checkDottedLabels(consumer, "consumer");
  return flatten(consumer);
}
