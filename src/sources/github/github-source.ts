import type { Logger } from "../../observability/logger.js";
import type { WebhookTarget } from "../../server/data-plane.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { answerFor, ignored, rejected, type WebhookAnswer } from "../webhook/answer.js";
import { headerOf, mediaTypeOf, type WebhookHeaders } from "../webhook/request.js";
import { githubCloudEvent } from "./github-event.js";
import { verifySignature } from "./signature.js";

export interface SecretKeyRef {
  readonly name: string;
  readonly key: string;
}

export interface GitHubSourceSpec {
  readonly ownerAndRepository: string;
  /** Webhook event names to forward (`push`, `pull_request`, …); absent or empty: all. */
  readonly eventTypes?: readonly string[];
  readonly secretToken: { readonly secretKeyRef: SecretKeyRef };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** GitHub caps webhook payloads at 25 MB. */
export const GITHUB_BODY_LIMIT = 25 * 1024 * 1024;

/**
 * GitHubSource, standalone: GitHub (configured by hand to call POST /sources/{ns}/{name}) posts
 * deliveries here; each verified one goes to the sink as a CloudEvent and is answered once the
 * sink has it. Registering the hook through the GitHub API (accessToken) is a cluster feature
 * and is not done here.
 */
export class GitHubSource implements RunnableSource {
  readonly webhook: WebhookTarget;
  private sink: EventSink | undefined;
  private readonly eventTypes: ReadonlySet<string>;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: GitHubSourceSpec,
    /** The secret token, or undefined when its Secret or key is missing. */
    private readonly secret: string | undefined,
    private readonly logger: Logger,
  ) {
    this.eventTypes = new Set(spec.eventTypes ?? []);
    this.webhook = {
      namespace,
      name,
      bodyLimit: GITHUB_BODY_LIMIT,
      handle: (request) => this.handle(request.headers, request.body),
    };
  }

  async start(sink: EventSink): Promise<void> {
    if (this.secret === undefined) {
      const ref = this.spec.secretToken.secretKeyRef;
      this.logger.error(
        { secret: `${this.namespace}/${ref.name}`, key: ref.key },
        "GitHubSource secret token not found: every delivery will be refused",
      );
    }
    this.sink = sink;
  }

  async stop(): Promise<void> {
    this.sink = undefined;
  }

  async handle(headers: WebhookHeaders, body: Buffer): Promise<WebhookAnswer> {
    const sink = this.sink;
    if (sink === undefined) return rejected(503, "SHUTTING_DOWN", "the source is not running");
    if (this.secret === undefined) {
      const ref = this.spec.secretToken.secretKeyRef;
      return rejected(
        401,
        "BAD_SIGNATURE",
        `cannot verify signatures: key ${ref.key} of Secret ${this.namespace}/${ref.name} not found`,
      );
    }
    const check = verifySignature(headers, body, this.secret);
    if (!check.ok) {
      this.logger.warn({ reason: check.reason }, "GitHub delivery refused");
      return rejected(401, "BAD_SIGNATURE", check.reason);
    }
    const event = headerOf(headers, "x-github-event");
    const id = headerOf(headers, "x-github-delivery");
    if (!event) return rejected(400, "INVALID_EVENT", "missing X-GitHub-Event header");
    if (!id) return rejected(400, "INVALID_EVENT", "missing X-GitHub-Delivery header");
    if (event === "ping") return ignored("ping");
    if (this.eventTypes.size > 0 && !this.eventTypes.has(event)) {
      return ignored(`event type ${event} is not in spec.eventTypes`);
    }
    const parsed = parsePayload(headers, body);
    if ("error" in parsed) return rejected(400, "INVALID_EVENT", parsed.error);
    const cloudEvent = githubCloudEvent(
      { event, id, data: parsed.data, payload: parsed.payload },
      this.spec.ownerAndRepository,
      this.spec.ceOverrides?.extensions,
    );
    return answerFor(await sink(cloudEvent), id);
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
