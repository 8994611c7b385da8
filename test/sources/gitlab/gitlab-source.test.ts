import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { gitlabEventType } from "../../../src/sources/gitlab/gitlab-event.js";
import { GitLabSource, type GitLabSourceSpec } from "../../../src/sources/gitlab/gitlab-source.js";
import type { RecordingSink } from "../../support/sink.js";
import { post, SourceHarness } from "../harness.js";

const TOKEN = "gitlab-hook-token";
const PUSH = JSON.stringify({
  object_kind: "push",
  ref: "refs/heads/main",
  project: { web_url: "https://gitlab.example.com/group/app" },
});

let harness: SourceHarness;
let sink: RecordingSink;

beforeEach(async () => {
  harness = new SourceHarness();
  sink = await harness.recordingSink();
});
afterEach(async () => {
  await harness.close();
});

async function serve(spec: Partial<GitLabSourceSpec> = {}) {
  const source = new GitLabSource(
    "default",
    "app-events",
    { secretToken: { secretKeyRef: { name: "gitlab", key: "token" } }, ...spec },
    TOKEN,
    silentLogger(),
  );
  await source.start(harness.sinkTo(sink.url));
  harness.defer(() => source.stop());
  return harness.serveWebhook(source.webhook);
}

const headers = (event: string, token = TOKEN, extra: Record<string, string> = {}) => ({
  "content-type": "application/json",
  "x-gitlab-event": event,
  "x-gitlab-token": token,
  ...extra,
});

describe("GitLabSource", () => {
  it.each([
    ["Push Hook", "push"],
    ["Tag Push Hook", "tag_push"],
    ["Merge Request Hook", "merge_request"],
    ["Confidential Issue Hook", "confidential_issue"],
    ["Wiki Page Hook", "wiki_page"],
    ["Pipeline Hook", "pipeline"],
    ["Push", undefined],
    [" Hook", undefined],
  ])("X-Gitlab-Event %j normalizes to %j", (header, type) => {
    expect(gitlabEventType(header)).toBe(type);
  });

  it.each<[string, Record<string, string>, number, string | undefined, number]>([
    ["a delivery with the right token is forwarded", headers("Push Hook"), 202, undefined, 1],
    [
      "a wrong token is refused with 401 and nothing is forwarded",
      headers("Push Hook", "guess"),
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "a token differing only in length is refused with 401",
      headers("Push Hook", `${TOKEN}x`),
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "a missing token is refused with 401",
      { "content-type": "application/json", "x-gitlab-event": "Push Hook" },
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "a missing X-Gitlab-Event is refused with 400",
      { "content-type": "application/json", "x-gitlab-token": TOKEN },
      400,
      "INVALID_EVENT",
      0,
    ],
    [
      "an X-Gitlab-Event not of the form '<Name> Hook' is refused with 400",
      headers("Push"),
      400,
      "INVALID_EVENT",
      0,
    ],
  ])("%s", async (_name, requestHeaders, status, code, forwarded) => {
    const url = await serve();
    const answer = await post(url, PUSH, requestHeaders);
    expect(answer.status).toBe(status);
    if (code) expect(answer.body?.["code"]).toBe(code);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.requests).toHaveLength(forwarded);
  });

  it("sends Knative's type, the project's web_url as source, the GitLab event UUID as id, and the header as comgitlabevent", async () => {
    const url = await serve();
    const answer = await post(
      url,
      PUSH,
      headers("Push Hook", TOKEN, {
        "x-gitlab-event-uuid": "7c7c4a36-8cd4-4b86-8a8b-0c3a1c4a5a2f",
      }),
    );
    expect(answer.status).toBe(202);
    expect(sink.events[0]?.attributes).toMatchObject({
      type: "dev.knative.sources.gitlab.push",
      source: "https://gitlab.example.com/group/app",
      id: "7c7c4a36-8cd4-4b86-8a8b-0c3a1c4a5a2f",
      comgitlabevent: "Push Hook",
      datacontenttype: "application/json",
    });
    expect(sink.events[0]?.data?.toString()).toBe(PUSH);
  });

  it("uses spec.projectUrl as source when the payload names no project", async () => {
    const url = await serve({ projectUrl: "https://gitlab.example.com/group/app" });
    await post(url, '{"object_kind":"build"}', headers("Job Hook"));
    expect(sink.events[0]?.attributes["source"]).toBe("https://gitlab.example.com/group/app");
    expect(sink.events[0]?.attributes["type"]).toBe("dev.knative.sources.gitlab.job");
  });

  it("forwards only the deliveries spec.eventTypes enables (others: 202, ignored)", async () => {
    const url = await serve({ eventTypes: ["merge_requests_events"] });
    const push = await post(url, PUSH, headers("Push Hook"));
    expect(push.body?.["status"]).toBe("ignored");
    const mr = await post(url, '{"object_kind":"merge_request"}', headers("Merge Request Hook"));
    expect(mr.status).toBe(202);
    expect(sink.events.map((e) => e.attributes["type"])).toEqual([
      "dev.knative.sources.gitlab.merge_request",
    ]);
  });
});
