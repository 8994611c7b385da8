import type { DeliveryOutcome } from "../../delivery/options.js";

/** What a webhook source answers (WebhookTarget.handle's result). */
export interface WebhookAnswer {
  status: number;
  body?: unknown;
}

export function rejected(status: number, code: string, error: string): WebhookAnswer {
  return { status, body: { error, code } };
}

/** The request was fine but carries nothing to forward (a ping, an event type not asked for). */
export function ignored(reason: string): WebhookAnswer {
  return { status: 202, body: { status: "ignored", reason } };
}

/**
 * Answers once the sink has the event. A dead-lettered event counts as handled, as it does for
 * triggers. An event that could not be delivered at all answers 502 so that the sender (GitHub,
 * GitLab) marks the delivery failed and it can be redelivered; 503 while shutting down.
 */
export function answerFor(outcome: DeliveryOutcome, id: string): WebhookAnswer {
  switch (outcome.kind) {
    case "delivered":
    case "replied":
    case "dead-lettered":
      return { status: 202, body: { status: "accepted", id } };
    case "dropped":
      if (outcome.reason === "shutdown") {
        return rejected(503, "SHUTTING_DOWN", "the source is stopping; deliver again later");
      }
      return rejected(
        502,
        "SINK_FAILED",
        `the event could not be delivered to the sink (${outcome.reason}` +
          `${outcome.status === undefined ? "" : `, last status ${outcome.status}`})`,
      );
  }
}
