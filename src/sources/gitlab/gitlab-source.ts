import type { Logger } from "../../observability/logger.js";
import type { WebhookTarget } from "../../server/data-plane.js";
import type { SecretKeyRef } from "../github/github-source.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { answerFor, ignored, rejected, type WebhookAnswer } from "../webhook/answer.js";
import { headerOf, secretsEqual, type WebhookHeaders } from "../webhook/request.js";
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
const GITLAB_BODY_LIMIT = 25 * 1024 * 1024;

/**
 * GitLabSource, standalone: GitLab posts to POST /sources/{ns}/{name} with the secret token in
 * X-Gitlab-Token; each delivery whose token matches goes to the sink as a CloudEvent.
 */
export class GitLabSource implements RunnableSource {
  readonly webhook: WebhookTarget;
  private sink: EventSink | undefined;
  /** Event types asked for (undefined: all). */
  private readonly types: ReadonlySet<string> | undefined;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: GitLabSourceSpec,
    private readonly secret: string | undefined,
    private readonly logger: Logger,
  ) {
    const hooks = spec.eventTypes ?? [];
    this.types =
      hooks.length === 0
        ? undefined
        : new Set(hooks.map((hook) => GITLAB_WEBHOOK_EVENT_TYPES[hook] ?? hook));
    this.webhook = {
      namespace,
      name,
      bodyLimit: GITLAB_BODY_LIMIT,
      handle: (request) => this.handle(request.headers, request.body),
    };
  }

  async start(sink: EventSink): Promise<void> {
    if (this.secret === undefined) {
      const ref = this.spec.secretToken.secretKeyRef;
      this.logger.error(
        { secret: `${this.namespace}/${ref.name}`, key: ref.key },
        "GitLabSource secret token not found: every delivery will be refused",
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
        `cannot verify tokens: key ${ref.key} of Secret ${this.namespace}/${ref.name} not found`,
      );
    }
    const token = headerOf(headers, "x-gitlab-token");
    if (token === undefined || !secretsEqual(token, this.secret)) {
      const reason =
        token === undefined ? "missing X-Gitlab-Token header" : "X-Gitlab-Token does not match";
      this.logger.warn({ reason }, "GitLab delivery refused");
      return rejected(401, "BAD_SIGNATURE", reason);
    }
    const header = headerOf(headers, "x-gitlab-event");
    if (!header) return rejected(400, "INVALID_EVENT", "missing X-Gitlab-Event header");
    const type = gitlabEventType(header);
    if (type === undefined) {
      return rejected(
        400,
        "INVALID_EVENT",
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
      return rejected(
        400,
        "INVALID_EVENT",
        `the payload is not valid JSON: ${(error as Error).message}`,
      );
    }
    if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
      return rejected(400, "INVALID_EVENT", "the payload must be a JSON object");
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
    return answerFor(await sink(event), String(event.attributes["id"]));
  }
}
