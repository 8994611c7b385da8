import { MAX_WEBHOOK_BODY_LIMIT } from "../../events/ingress-target.js";
import type { Logger } from "../../observability/logger.js";
import { ignored, refused } from "../webhook/answer.js";
import { headerOf, mediaTypeOf, type WebhookHeaders } from "../webhook/request.js";
import { type Accepted, type SecretKeyRef, WebhookSource } from "../webhook/webhook-source.js";
import { githubCloudEvent } from "./github-event.js";
import { verifySignature } from "./signature.js";

export interface GitHubSourceSpec {
  readonly ownerAndRepository: string;
  /** Webhook event names to forward (`push`, `pull_request`, …); absent or empty: all. */
  readonly eventTypes?: readonly string[];
  readonly secretToken: { readonly secretKeyRef: SecretKeyRef };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** GitHub caps webhook payloads at 25 MB. */
export const GITHUB_BODY_LIMIT = MAX_WEBHOOK_BODY_LIMIT;

/**
 * GitHubSource, standalone: GitHub (configured by hand to call POST /sources/{ns}/{name}) posts
 * deliveries here; each verified one goes to the sink as a CloudEvent and is answered once the
 * sink has it. Registering the hook through the GitHub API (accessToken) is a cluster feature
 * and is not done here.
 */
export class GitHubSource extends WebhookSource {
  private readonly eventTypes: ReadonlySet<string>;

  constructor(
    namespace: string,
    name: string,
    private readonly spec: GitHubSourceSpec,
    secret: string | undefined,
    logger: Logger,
  ) {
    super(
      namespace,
      name,
      {
        kind: "GitHubSource",
        secretRef: spec.secretToken.secretKeyRef,
        secretUse: "signatures",
        bodyLimit: GITHUB_BODY_LIMIT,
      },
      secret,
      logger,
    );
    this.eventTypes = new Set(spec.eventTypes ?? []);
  }

  protected accept(headers: WebhookHeaders, body: Buffer, secret: string): Accepted {
    const check = verifySignature(headers, body, secret);
    if (!check.ok) {
      this.logger.warn({ reason: check.reason }, "GitHub delivery refused");
      return refused("bad-signature", check.reason);
    }
    const event = headerOf(headers, "x-github-event");
    const id = headerOf(headers, "x-github-delivery");
    if (!event) return refused("invalid-delivery", "missing X-GitHub-Event header");
    if (!id) return refused("invalid-delivery", "missing X-GitHub-Delivery header");
    if (event === "ping") return ignored("ping");
    if (this.eventTypes.size > 0 && !this.eventTypes.has(event)) {
      return ignored(`event type ${event} is not in spec.eventTypes`);
    }
    const parsed = parsePayload(headers, body);
    if ("error" in parsed) return refused("invalid-delivery", parsed.error);
    const cloudEvent = githubCloudEvent(
      { event, id, data: parsed.data, payload: parsed.payload },
      this.spec.ownerAndRepository,
      this.spec.ceOverrides?.extensions,
    );
    return { event: cloudEvent, id };
  }
}

type Parsed = { data: Buffer; payload: Record<string, unknown> } | { error: string };

/** GitHub sends JSON, or (content type "form") the JSON in a `payload` form field. */
function parsePayload(headers: WebhookHeaders, body: Buffer): Parsed {
  let data = body;
  if (mediaTypeOf(headerOf(headers, "content-type")) === "application/x-www-form-urlencoded") {
    const field = new URLSearchParams(body.toString("utf8")).get("payload");
    if (field === null) return { error: "form-encoded delivery without a payload field" };
    data = Buffer.from(field, "utf8");
  }
  try {
    const payload: unknown = JSON.parse(data.toString("utf8"));
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      return { error: "the payload must be a JSON object" };
    }
    return { data, payload: payload as Record<string, unknown> };
  } catch (error) {
    return { error: `the payload is not valid JSON: ${(error as Error).message}` };
  }
}
