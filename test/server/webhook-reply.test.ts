import { describe, expect, it } from "vitest";
import type { WebhookOutcome } from "../../src/events/ingress-target.js";
import { webhookReply } from "../../src/server/webhook-reply.js";

describe("webhookReply maps a webhook source's outcome through the error catalogue", () => {
  it.each<[string, WebhookOutcome, number, unknown]>([
    [
      "accepted is 202 with the delivery id",
      { outcome: "accepted", id: "d-1" },
      202,
      { status: "accepted", id: "d-1" },
    ],
    [
      "ignored is 202 with the reason",
      { outcome: "ignored", reason: "ping" },
      202,
      { status: "ignored", reason: "ping" },
    ],
    [
      "a bad signature is 401 BAD_SIGNATURE",
      { outcome: "refused", refusal: "bad-signature", reason: "no signature" },
      401,
      { error: "no signature", code: "BAD_SIGNATURE" },
    ],
    [
      "an invalid delivery is 400 INVALID_EVENT",
      { outcome: "refused", refusal: "invalid-delivery", reason: "missing X-GitHub-Event header" },
      400,
      { error: "missing X-GitHub-Event header", code: "INVALID_EVENT" },
    ],
    [
      "a sink failure is 502 SINK_FAILED, so the sender redelivers",
      { outcome: "refused", refusal: "sink-failed", reason: "refused" },
      502,
      { error: "refused", code: "SINK_FAILED" },
    ],
    [
      "a stopped source is 503 SHUTTING_DOWN",
      { outcome: "refused", refusal: "stopped", reason: "the source is not running" },
      503,
      { error: "the source is not running", code: "SHUTTING_DOWN" },
    ],
  ])("%s", (_name, outcome, status, body) => {
    expect(webhookReply(outcome)).toEqual({ status, body });
  });
});
