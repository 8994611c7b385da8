import { MAX_WEBHOOK_BODY_LIMIT } from "../../events/ingress-target.js";
import type { Logger } from "../../observability/logger.js";
import { ignored, refused } from "../webhook/answer.js";
import { headerOf, secretsEqual, type WebhookHeaders } from "../webhook/request.js";
import { type Accepted, type SecretKeyRef, WebhookSource } from "../webhook/webhook-source.js";
import { GITLAB_WEBHOOK_EVENT_TYPES, gitlabCloudEvent, gitlabEventType } from "./gitlab-event.js";

export interface GitLabSourceSpec {
  /** The project, e.g. https://gitlab.com/group/project; also the events' source. */
  readonly projectUrl?: string;
  /** Project hook switches (push_events, merge_requests_events, …); absent or empty: all. */
  readonly eventTypes?: readonly string[];
  readonly secretToken: { readonly secretKeyRef: SecretKeyRef };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** GitLab's default webhook payload limit is 25 MB as well. */
const GITLAB_BODY_LIMIT = MAX_WEBHOOK_BODY_LIMIT;

/**
 * GitLabSource, standalone: GitLab posts to POST /sources/{ns}/{name} with the secret token in
 * X-Gitlab-Token; each delivery whose token matches goes to the sink as a CloudEvent.
 */
export class GitLabSource extends WebhookSource {
  /** Event types asked for (undefined: all). */
  private readonly types: ReadonlySet<string> | undefined;

  constructor(
    namespace: string,
    name: string,
    private readonly spec: GitLabSourceSpec,
    secret: string | undefined,
    logger: Logger,
  ) {
    super(
      namespace,
      name,
      {
        kind: "GitLabSource",
        secretRef: spec.secretToken.secretKeyRef,
        secretUse: "tokens",
        bodyLimit: GITLAB_BODY_LIMIT,
      },
      secret,
      logger,
    );
    const hooks = spec.eventTypes ?? [];
    this.types =
      hooks.length === 0
        ? undefined
        : new Set(hooks.map((hook) => GITLAB_WEBHOOK_EVENT_TYPES[hook] ?? hook));
  }

  protected accept(headers: WebhookHeaders, body: Buffer, secret: string): Accepted {
    const token = headerOf(headers, "x-gitlab-token");
    if (token === undefined || !secretsEqual(token, secret)) {
      const reason =
        token === undefined ? "missing X-Gitlab-Token header" : "X-Gitlab-Token does not match";
      this.logger.warn({ reason }, "GitLab delivery refused");
      return refused("bad-signature", reason);
    }
    const header = headerOf(headers, "x-gitlab-event");
    if (!header) return refused("invalid-delivery", "missing X-Gitlab-Event header");
    const type = gitlabEventType(header);
    if (type === undefined) {
      return refused(
        "invalid-delivery",
        `X-Gitlab-Event ${JSON.stringify(header)} is not "<Name> Hook"`,
      );
    }
    if (this.types !== undefined && !this.types.has(type)) {
      return ignored(`${header} is not enabled by spec.eventTypes`);
    }
    let payload: unknown;
    try {
      payload = JSON.parse(body.toString("utf8"));
    } catch (error) {
      return refused(
        "invalid-delivery",
        `the payload is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      return refused("invalid-delivery", "the payload must be a JSON object");
    }
    const uuid = headerOf(headers, "x-gitlab-event-uuid");
    const event = gitlabCloudEvent(
      {
        header,
        ...(uuid ? { uuid } : {}),
        data: body,
        payload: payload as Record<string, unknown>,
      },
      type,
      this.spec.projectUrl ??
        `/apis/v1alpha1/namespaces/${this.namespace}/gitlabsources/${this.name}`,
      this.spec.ceOverrides?.extensions,
    );
    return { event, id: String(event.attributes["id"]) };
  }
}
