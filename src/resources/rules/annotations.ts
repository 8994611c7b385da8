import { parseIsoDuration } from "../duration.js";
import { childPath } from "../issue.js";
import { type Check, quote } from "./check.js";

/** Eventail's own annotations, checked on the kinds that read them. */
const ANNOTATIONS: ReadonlyArray<{
  readonly key: string;
  readonly kinds: readonly string[];
  readonly accepts: (value: string) => boolean;
  readonly expected: string;
}> = [
  {
    key: "eventail.io/delivery.order",
    kinds: ["Trigger", "Subscription"],
    accepts: (value) => value === "ordered" || value === "unordered",
    expected: "ordered or unordered",
  },
  {
    key: "eventail.io/delivery.concurrency",
    kinds: ["Trigger", "Subscription"],
    accepts: isPositiveInteger,
    expected: "a positive integer",
  },
  {
    key: "eventail.io/delivery.rate",
    kinds: ["Trigger", "Subscription"],
    accepts: (value) => /^[0-9]+(\.[0-9]+)?$/.test(value) && Number(value) > 0,
    expected: "a positive number of deliveries per second",
  },
  {
    key: "eventail.io/delivery.max-backoff",
    kinds: ["Trigger", "Subscription"],
    accepts: (value) => (parseIsoDuration(value) ?? 0) > 0,
    expected: "an ISO-8601 duration above zero, e.g. PT30S",
  },
  {
    key: "eventail.io/ingress.max-body-bytes",
    kinds: ["Broker"],
    accepts: isPositiveInteger,
    expected: "a positive integer (bytes)",
  },
  {
    key: "eventail.io/jobsink.max-running",
    kinds: ["JobSink"],
    accepts: isPositiveInteger,
    expected: "a positive integer (jobs running at once)",
  },
  {
    key: "eventail.io/retention",
    kinds: ["Broker"],
    accepts: (value) => (parseIsoDuration(value) ?? 0) > 0,
    expected: "an ISO-8601 duration above zero, e.g. PT24H",
  },
  {
    key: "eventail.io/memory.max-events",
    kinds: ["Broker", "InMemoryChannel", "Channel"],
    accepts: isPositiveInteger,
    expected: "a positive integer (undelivered events)",
  },
];

export function checkAnnotations(check: Check): void {
  const annotations = check.resource.metadata.annotations ?? {};
  for (const rule of ANNOTATIONS) {
    const value = annotations[rule.key];
    if (value === undefined || !rule.kinds.includes(check.resource.kind)) continue;
    if (!rule.accepts(value)) {
      check.report(
        childPath("metadata.annotations", rule.key),
        `must be ${rule.expected} (got ${quote(value)})`,
      );
    }
  }
}

function isPositiveInteger(value: string): boolean {
  return /^[1-9][0-9]*$/.test(value) && Number.isSafeInteger(Number(value));
}
