import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { GitHubSource } from "../../../src/sources/github/github-source.js";
import { signatureOf } from "../../../src/sources/github/signature.js";
import type { RecordingSink } from "../../support/sink.js";
import { post, SourceHarness } from "../harness.js";

// biome-ignore lint/suspicious/noExplicitAny: example payloads are read by path, whatever their event type.
type Payload = Record<string, any>;
const definitions = createRequire(import.meta.url)("@octokit/webhooks-examples") as Array<{
  name: string;
  examples: Payload[];
}>;

const SECRET = "examples-secret";
const OWNER = "octo-org";

/** The text after the last "/" of a URL. */
const tail = (url: string) => url.slice(url.lastIndexOf("/") + 1);

/**
 * What each event is about, as Knative's eventing-github sets the subject (pkg/common/events.go)
 * and, for events GitHub added since, the id or number of the object the event is named after.
 */
const EXPECTED_SUBJECT: Record<string, (p: Payload) => unknown> = {
  branch_protection_rule: (p) => p.rule.id,
  check_run: (p) => p.check_run.id,
  check_suite: (p) => p.check_suite.id,
  code_scanning_alert: (p) => p.alert.number,
  commit_comment: (p) => tail(p.comment.html_url),
  create: (p) => p.ref_type,
  delete: (p) => p.ref_type,
  dependabot_alert: (p) => p.alert.number,
  deploy_key: (p) => p.key.id,
  deployment: (p) => p.deployment.id,
  deployment_review: (p) => p.workflow_run.id,
  deployment_status: (p) => p.deployment.id,
  discussion: (p) => p.discussion.number,
  discussion_comment: (p) => tail(p.comment.html_url),
  fork: (p) => p.forkee.id,
  github_app_authorization: (p) => p.sender.id,
  gollum: (p) => p.pages.map((page: Payload) => page.page_name).join(","),
  installation: (p) => p.installation.id,
  installation_repositories: (p) => p.installation.id,
  issue_comment: (p) => tail(p.comment.html_url),
  issues: (p) => p.issue.number,
  label: (p) => p.label.name,
  marketplace_purchase: (p) => p.marketplace_purchase.account.id,
  member: (p) => p.member.id,
  membership: (p) => p.member.id,
  merge_group: (p) => p.merge_group.head_sha,
  meta: (p) => p.hook_id,
  milestone: (p) => p.milestone.number,
  organization: (p) => p.action,
  org_block: (p) => p.action,
  package: (p) => p.package.id,
  page_build: (p) => p.id,
  project: (p) => p.action,
  project_card: (p) => p.action,
  project_column: (p) => p.action,
  projects_v2_item: (p) => p.projects_v2_item.id,
  public: (p) => p.repository.id,
  pull_request: (p) => p.pull_request.number,
  pull_request_review: (p) => p.review.id,
  pull_request_review_comment: (p) => p.comment.id,
  pull_request_review_thread: (p) => p.pull_request.number,
  push: (p) => tail(p.compare),
  release: (p) => p.release.tag_name,
  repository: (p) => p.repository.id,
  repository_dispatch: (p) => p.action,
  repository_import: (p) => p.repository.id,
  repository_vulnerability_alert: (p) => p.alert.id,
  security_advisory: (p) => p.security_advisory.ghsa_id,
  sponsorship: (p) => p.sponsorship.node_id,
  star: (p) => p.repository.id,
  status: (p) => p.sha,
  team: (p) => p.team.id,
  team_add: (p) => p.repository.id,
  watch: (p) => p.repository.id,
  workflow_dispatch: (p) => p.workflow,
  workflow_job: (p) => p.workflow_job.id,
  workflow_run: (p) => p.workflow_run.id,
};

interface Sent {
  readonly name: string;
  readonly index: number;
  readonly delivery: string;
  readonly body: string;
  readonly payload: Payload;
}

const cases = definitions.flatMap((definition) =>
  definition.examples.map((payload, index) => ({ name: definition.name, index, payload })),
);

let harness: SourceHarness;
let sink: RecordingSink;
const sent: Sent[] = [];
const answers = new Map<string, number>();

beforeAll(async () => {
  harness = new SourceHarness();
  sink = await harness.recordingSink();
  const source = new GitHubSource(
    "default",
    "org-events",
    { ownerAndRepository: OWNER, secretToken: { secretKeyRef: { name: "github", key: "token" } } },
    SECRET,
    silentLogger(),
  );
  await source.start(harness.sinkTo(sink.url));
  harness.defer(() => source.stop());
  const url = await harness.serveWebhook(source.webhook);
  for (const { name, index, payload } of cases) {
    const body = JSON.stringify(payload);
    const delivery = randomUUID();
    const answer = await post(url, body, {
      "content-type": "application/json",
      "x-github-event": name,
      "x-github-delivery": delivery,
      "x-hub-signature-256": signatureOf("sha256", SECRET, Buffer.from(body)),
    });
    answers.set(delivery, answer.status);
    sent.push({ name, index, delivery, body, payload });
  }
}, 120_000);

afterAll(async () => {
  await harness.close();
});

describe("every @octokit/webhooks-examples payload through a real webhook and a real sink", () => {
  it("covers every event the package has an example of, and each has an expected subject", () => {
    expect(cases.length).toBeGreaterThan(300);
    const missing = [...new Set(cases.map((c) => c.name))].filter(
      (name) => !(name in EXPECTED_SUBJECT) && name !== "ping",
    );
    expect(missing).toEqual([]);
  });

  it("forwards every delivery but ping, each once, answered 202", () => {
    expect([...answers.values()].every((status) => status === 202)).toBe(true);
    const forwarded = sent.filter((s) => s.name !== "ping");
    expect(sink.events.map((e) => e.attributes["id"]).sort()).toEqual(
      forwarded.map((s) => s.delivery).sort(),
    );
  });

  it.each(cases.filter((c) => c.name !== "ping"))(
    "$name example $index has the right type, source, id, subject and data",
    ({ name, index }) => {
      const one = sent.find((s) => s.name === name && s.index === index)!;
      const event = sink.events.find((e) => e.attributes["id"] === one.delivery);
      expect(event).toBeDefined();
      const payload = one.payload;
      const expectedSource =
        payload["repository"]?.html_url ??
        `https://github.com/${payload["organization"]?.login ?? OWNER}`;
      const subject = EXPECTED_SUBJECT[name]!(payload);
      expect(event!.attributes["type"]).toBe(`dev.knative.source.github.${name}`);
      expect(event!.attributes["source"]).toBe(expectedSource);
      expect(event!.attributes["subject"]).toBe(
        subject === undefined || subject === null ? undefined : String(subject),
      );
      expect(event!.attributes["datacontenttype"]).toBe("application/json");
      expect(event!.data?.toString()).toBe(one.body);
    },
  );
});
