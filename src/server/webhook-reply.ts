/** The HTTP answer to a webhook source's outcome, through the one error catalogue. */
import type { WebhookOutcome, WebhookRefusal } from "../events/ingress-target.js";
import { ERRORS, type ErrorCode, errorBody } from "./errors.js";

const REFUSALS: Readonly<Record<WebhookRefusal, ErrorCode>> = {
  "bad-signature": "BAD_SIGNATURE",
  "invalid-delivery": "INVALID_EVENT",
  // GitHub and GitLab mark a delivery answered 5xx as failed, so it can be redelivered.
  "sink-failed": "SINK_FAILED",
  stopped: "SHUTTING_DOWN",
};

export function webhookReply(answer: WebhookOutcome): { status: number; body: unknown } {
  switch (answer.outcome) {
    case "accepted":
      return { status: 202, body: { status: "accepted", id: answer.id } };
    case "ignored":
      return { status: 202, body: { status: "ignored", reason: answer.reason } };
    case "refused": {
      const code = REFUSALS[answer.refusal];
      return { status: ERRORS[code], body: errorBody(code, answer.reason) };
    }
  }
}
