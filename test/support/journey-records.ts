/** The acceptance and route records the journey backlog tests write straight to an engine's log. */
export const accepted = {
  at: 1,
  stream: "broker.journeys.default",
  size: 2,
  type: "order.created",
};

export const delivered = {
  kind: "Trigger",
  name: "takes-all",
  outcome: "delivered",
  attempts: [{ at: 2, status: 202, durationMs: 3 }],
} as const;
