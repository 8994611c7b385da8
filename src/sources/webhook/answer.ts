/**
 * The outcomes a webhook source gives (WebhookOutcome, defined with the ingress target); server/
 * turns them into statuses and bodies through its error catalogue.
 */
import type { DeliveryOutcome } from "../../delivery/options.js";
import type { WebhookOutcome, WebhookRefusal } from "../../events/ingress-target.js";

/** A delivery refused, and why in one sentence. */
export function refused(refusal: WebhookRefusal, reason: string): WebhookOutcome {
  return { outcome: "refused", refusal, reason };
}

/** The request was fine but carries nothing to forward (a ping, an event type not asked for). */
export function ignored(reason: string): WebhookOutcome {
  return { outcome: "ignored", reason };
}

/**
 * What a delivery comes to once the sink has answered. A dead-lettered event counts as handled,
 * as it does for triggers; an event that could not be delivered at all is refused so that the
 * sender (GitHub, GitLab) marks the delivery failed and it can be redelivered.
 */
export function outcomeOf(delivery: DeliveryOutcome, id: string): WebhookOutcome {
  switch (delivery.kind) {
    case "delivered":
    case "replied":
    case "dead-lettered":
      return { outcome: "accepted", id };
    case "dropped":
      if (delivery.reason === "shutdown") {
        return refused("stopped", "the source is stopping; deliver again later");
      }
      return refused(
        "sink-failed",
        `the event could not be delivered to the sink (${delivery.reason}` +
          `${delivery.status === undefined ? "" : `, last status ${delivery.status}`})`,
      );
  }
}
