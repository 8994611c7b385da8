/**
 * How a GitLab webhook delivery becomes a CloudEvent, as Knative's GitLabSource does it:
 * `X-Gitlab-Event: Merge Request Hook` → type `dev.knative.sources.gitlab.merge_request`, the
 * header itself as extension `comgitlabevent`, source the project URL.
 */
import { randomUUID } from "node:crypto";
import { type CloudEvent, createEvent } from "../../events/event.js";

export const GITLAB_TYPE_PREFIX = "dev.knative.sources.gitlab.";

/** "Some Type Hook" → "some_type"; undefined when the header is not of that form. */
export function gitlabEventType(header: string): string | undefined {
  const suffix = " Hook";
  if (!header.endsWith(suffix) || header.length === suffix.length) return undefined;
  return header.slice(0, -suffix.length).replaceAll(" ", "_").toLowerCase();
}

/**
 * The switches of a GitLab project hook, and the event type of the deliveries each one enables
 * (what `X-Gitlab-Event` normalizes to: "Confidential Issue Hook" → confidential_issue).
 */
export const GITLAB_WEBHOOK_EVENT_TYPES: Readonly<Record<string, string>> = {
  confidential_issues_events: "confidential_issue",
  confidential_note_events: "confidential_note",
  deployment_events: "deployment",
  emoji_events: "emoji",
  feature_flag_events: "feature_flag",
  issues_events: "issue",
  job_events: "job",
  merge_requests_events: "merge_request",
  note_events: "note",
  pipeline_events: "pipeline",
  push_events: "push",
  releases_events: "release",
  tag_push_events: "tag_push",
  wiki_page_events: "wiki_page",
};

function projectUrl(payload: Readonly<Record<string, unknown>>): string | undefined {
  const project = payload["project"];
  if (project !== null && typeof project === "object") {
    const url = (project as Record<string, unknown>)["web_url"];
    if (typeof url === "string" && url !== "") return url;
  }
  return undefined;
}

export interface GitLabDelivery {
  /** X-Gitlab-Event, e.g. "Push Hook". */
  readonly header: string;
  /** X-Gitlab-Event-UUID when GitLab sent one (GitLab 15+): stable across redeliveries. */
  readonly uuid?: string;
  readonly data: Buffer;
  readonly payload: Readonly<Record<string, unknown>>;
}

export function gitlabCloudEvent(
  delivery: GitLabDelivery,
  type: string,
  fallbackSource: string,
  extensions: Readonly<Record<string, string>> = {},
): CloudEvent {
  return createEvent(
    {
      specversion: "1.0",
      id: delivery.uuid ?? randomUUID(),
      type: `${GITLAB_TYPE_PREFIX}${type}`,
      source: projectUrl(delivery.payload) ?? fallbackSource,
      datacontenttype: "application/json",
      comgitlabevent: delivery.header,
      ...extensions,
    },
    delivery.data,
  );
}
