import fc from "fast-check";

export const wireAccepted = fc.record({
  at: fc.integer(),
  stream: fc.string(),
  size: fc.nat(),
  type: fc.string(),
});

export const wireRoute = fc.record({
  kind: fc.constantFrom("Trigger", "Subscription"),
  name: fc.string(),
  outcome: fc.constantFrom("delivered", "pending", "dead-lettered"),
});

/** Any report as journey-wire.ts encodes it: [namespace, id, source, expiresAt, "a" | "r", record]. */
export const wireReport = fc.oneof(
  fc.tuple(fc.string(), fc.string(), fc.string(), fc.integer(), fc.constant("a"), wireAccepted),
  fc.tuple(fc.string(), fc.string(), fc.string(), fc.integer(), fc.constant("r"), wireRoute),
);
