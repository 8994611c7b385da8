/**
 * How a GitHub webhook delivery becomes a CloudEvent, as Knative's GitHubSource does it:
 * type `dev.knative.source.github.{event}`, source `https://github.com/{owner}[/{repo}]`,
 * id = X-GitHub-Delivery, data = the JSON payload, subject = what the event is about.
 */
import { type CloudEvent, createEvent } from "../../events/event.js";

export const GITHUB_TYPE_PREFIX = "dev.knative.source.github";

type Payload = Readonly<Record<string, unknown>>;

function at(payload: Payload, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split(".")) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function field(path: string): (payload: Payload) => string | undefined {
  return (payload) => {
    const value = at(payload, path);
    return typeof value === "string" || typeof value === "number" ? String(value) : undefined;
  };
}

/** The part after the last `/` of a URL field (a comment's anchor, a push's compare range). */
function lastPathPortion(path: string): (payload: Payload) => string | undefined {
  return (payload) => {
    const url = at(payload, path);
    if (typeof url !== "string") return undefined;
    const slash = url.lastIndexOf("/");
    return slash === -1 ? undefined : url.slice(slash + 1);
  };
}

function pageNames(payload: Payload): string | undefined {
  const pages = at(payload, "pages");
  if (!Array.isArray(pages)) return undefined;
  return pages.map((page) => String((page as Record<string, unknown>)["page_name"])).join(",");
}

/**
 * The subject per event type. The first block is Knative's eventing-github table
 * (pkg/common/events.go); the second extends it to the events GitHub added since, with the same
 * rule: the number or id of the thing the event is about.
 */
const SUBJECTS: Readonly<Record<string, (payload: Payload) => string | undefined>> = {
  check_run: field("check_run.id"),
  check_suite: field("check_suite.id"),
  commit_comment: lastPathPortion("comment.html_url"),
  create: field("ref_type"),
  delete: field("ref_type"),
  deployment: field("deployment.id"),
  deployment_status: field("deployment.id"),
  fork: field("forkee.id"),
  gollum: pageNames,
  installation: field("installation.id"),
  integration_installation: field("installation.id"),
  installation_repositories: field("installation.id"),
  integration_installation_repositories: field("installation.id"),
  issue_comment: lastPathPortion("comment.html_url"),
  issues: field("issue.number"),
  label: field("label.name"),
  member: field("member.id"),
  membership: field("member.id"),
  milestone: field("milestone.number"),
  organization: field("action"),
  org_block: field("action"),
  page_build: field("id"),
  ping: field("hook_id"),
  project_card: field("action"),
  project_column: field("action"),
  project: field("action"),
  public: field("repository.id"),
  pull_request: field("pull_request.number"),
  pull_request_review_comment: field("comment.id"),
  pull_request_review: field("review.id"),
  push: lastPathPortion("compare"),
  release: field("release.tag_name"),
  repository: field("repository.id"),
  repository_vulnerability_alert: field("alert.id"),
  security_advisory: field("security_advisory.ghsa_id"),
  status: field("sha"),
  team: field("team.id"),
  team_add: field("repository.id"),
  watch: field("repository.id"),

  branch_protection_rule: field("rule.id"),
  code_scanning_alert: field("alert.number"),
  dependabot_alert: field("alert.number"),
  deploy_key: field("key.id"),
  deployment_review: field("workflow_run.id"),
  discussion: field("discussion.number"),
  discussion_comment: lastPathPortion("comment.html_url"),
  github_app_authorization: field("sender.id"),
  marketplace_purchase: field("marketplace_purchase.account.id"),
  merge_group: field("merge_group.head_sha"),
  meta: field("hook_id"),
  package: field("package.id"),
  projects_v2_item: field("projects_v2_item.id"),
  pull_request_review_thread: field("pull_request.number"),
  repository_dispatch: field("action"),
  repository_import: field("repository.id"),
  sponsorship: field("sponsorship.node_id"),
  star: field("repository.id"),
  workflow_dispatch: field("workflow"),
  workflow_job: field("workflow_job.id"),
  workflow_run: field("workflow_run.id"),
};

export function githubSubject(event: string, payload: Payload): string | undefined {
  const subject = SUBJECTS[event]?.(payload);
  return subject === "" ? undefined : subject;
}

/**
 * `https://github.com/{ownerAndRepository}`. When the source names only an owner (an
 * organization-wide hook), the repository the payload is about, else its organization.
 */
export function githubSource(ownerAndRepository: string, payload: Payload): string {
  if (!ownerAndRepository.includes("/")) {
    const repository = at(payload, "repository.html_url");
    if (typeof repository === "string" && repository !== "") return repository;
    const organization = at(payload, "organization.login");
    if (typeof organization === "string" && organization !== "") {
      return `https://github.com/${organization}`;
    }
  }
  return `https://github.com/${ownerAndRepository}`;
}

export interface GitHubDelivery {
  /** X-GitHub-Event */
  readonly event: string;
  /** X-GitHub-Delivery */
  readonly id: string;
  /** The JSON payload bytes, exactly as GitHub sent them. */
  readonly data: Buffer;
  readonly payload: Payload;
}

export function githubCloudEvent(
  delivery: GitHubDelivery,
  ownerAndRepository: string,
  extensions: Readonly<Record<string, string>> = {},
): CloudEvent {
  const subject = githubSubject(delivery.event, delivery.payload);
  return createEvent(
    {
      specversion: "1.0",
      id: delivery.id,
      type: `${GITHUB_TYPE_PREFIX}.${delivery.event}`,
      source: githubSource(ownerAndRepository, delivery.payload),
      ...(subject === undefined ? {} : { subject }),
      datacontenttype: "application/json",
      ...extensions,
    },
    delivery.data,
  );
}
