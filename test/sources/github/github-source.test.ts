import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { GitHubSource, type GitHubSourceSpec } from "../../../src/sources/github/github-source.js";
import { signatureOf } from "../../../src/sources/github/signature.js";
import type { RecordingSink } from "../../support/sink.js";
import { post, SourceHarness } from "../harness.js";

const SECRET = "s3cr3t-token";
const PUSH = JSON.stringify({
  ref: "refs/heads/main",
  compare: "https://github.com/acme/widgets/compare/1111111...2222222",
  repository: { html_url: "https://github.com/acme/widgets", full_name: "acme/widgets" },
});

function signed(body: string | Buffer, event: string, extra: Record<string, string> = {}) {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": signatureOf("sha256", SECRET, Buffer.from(body)),
    ...extra,
  };
}

let harness: SourceHarness;
let sink: RecordingSink;
/** The sink answers its first request 500 (and retry is 0). */
let failFirst = false;

beforeEach(async () => {
  harness = new SourceHarness();
  failFirst = false;
  sink = await harness.recordingSink((_request, index) => ({
    status: index === 0 && failFirst ? 500 : 202,
  }));
});
afterEach(async () => {
  await harness.close();
});

/** `secret` null: the Secret the spec names does not exist. */
async function serve(spec: Partial<GitHubSourceSpec> = {}, secret: string | null = SECRET) {
  const source = new GitHubSource(
    "default",
    "repo-events",
    {
      ownerAndRepository: "acme/widgets",
      secretToken: { secretKeyRef: { name: "github", key: "secretToken" } },
      ...spec,
    },
    secret ?? undefined,
    silentLogger(),
  );
  await source.start(harness.sinkTo(sink.url));
  harness.defer(() => source.stop());
  return harness.serveWebhook(source.webhook);
}

describe("GitHubSource webhook", () => {
  it.each<
    [
      string,
      () => { body: string | Buffer; headers: Record<string, string> },
      number,
      string | undefined,
      number,
    ]
  >([
    [
      "a delivery signed with the secret is forwarded and answered 202",
      () => ({ body: PUSH, headers: signed(PUSH, "push") }),
      202,
      undefined,
      1,
    ],
    [
      "a delivery signed with another secret is refused with 401 and not forwarded",
      () => ({
        body: PUSH,
        headers: {
          ...signed(PUSH, "push"),
          "x-hub-signature-256": signatureOf("sha256", "other", Buffer.from(PUSH)),
        },
      }),
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "a body changed after signing is refused with 401",
      () => ({ body: PUSH.replace("main", "evil"), headers: signed(PUSH, "push") }),
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "an unsigned delivery is refused with 401 and not forwarded",
      () => {
        const h: Record<string, string> = signed(PUSH, "push");
        delete h["x-hub-signature-256"];
        return { body: PUSH, headers: h };
      },
      401,
      "BAD_SIGNATURE",
      0,
    ],
    [
      "a delivery signed only with the legacy SHA-1 header is forwarded",
      () => {
        const h: Record<string, string> = signed(PUSH, "push");
        delete h["x-hub-signature-256"];
        h["x-hub-signature"] = signatureOf("sha1", SECRET, Buffer.from(PUSH));
        return { body: PUSH, headers: h };
      },
      202,
      undefined,
      1,
    ],
    [
      "ping is answered 202 and not forwarded",
      () => ({
        body: '{"zen":"Keep it logically awesome.","hook_id":1}',
        headers: signed('{"zen":"Keep it logically awesome.","hook_id":1}', "ping"),
      }),
      202,
      undefined,
      0,
    ],
    [
      "a delivery without X-GitHub-Event is refused with 400",
      () => {
        const h: Record<string, string> = signed(PUSH, "push");
        delete h["x-github-event"];
        return { body: PUSH, headers: h };
      },
      400,
      "INVALID_EVENT",
      0,
    ],
    [
      "a delivery without X-GitHub-Delivery is refused with 400",
      () => {
        const h: Record<string, string> = signed(PUSH, "push");
        delete h["x-github-delivery"];
        return { body: PUSH, headers: h };
      },
      400,
      "INVALID_EVENT",
      0,
    ],
    [
      "a signed body that is not JSON is refused with 400",
      () => ({ body: "not json", headers: signed("not json", "push") }),
      400,
      "INVALID_EVENT",
      0,
    ],
  ])("%s", async (_name, request, status, code, forwarded) => {
    const url = await serve();
    const { body, headers } = request();
    const answer = await post(url, body, headers);
    expect(answer.status).toBe(status);
    if (code) expect(answer.body?.["code"]).toBe(code);
    // Let a wrongly forwarded event reach the sink before counting.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.requests).toHaveLength(forwarded);
  });

  it("answers 202 only after the sink accepted the event, carrying its attributes and the raw payload", async () => {
    const url = await serve();
    const headers = signed(PUSH, "push");
    const answer = await post(url, PUSH, headers);
    expect(answer).toEqual({
      status: 202,
      body: { status: "accepted", id: headers["x-github-delivery"] },
    });
    expect(sink.requests).toHaveLength(1);
    const event = sink.events[0]!;
    expect(event.attributes).toMatchObject({
      specversion: "1.0",
      type: "dev.knative.source.github.push",
      source: "https://github.com/acme/widgets",
      id: headers["x-github-delivery"],
      subject: "1111111...2222222",
      datacontenttype: "application/json",
    });
    expect(event.data?.toString()).toBe(PUSH);
  });

  it("forwards only the event types listed in spec.eventTypes (others: 202, ignored)", async () => {
    const url = await serve({ eventTypes: ["pull_request"] });
    const push = await post(url, PUSH, signed(PUSH, "push"));
    expect(push).toEqual({
      status: 202,
      body: { status: "ignored", reason: "event type push is not in spec.eventTypes" },
    });
    const pr = JSON.stringify({ number: 7, pull_request: { number: 7 } });
    expect((await post(url, pr, signed(pr, "pull_request"))).status).toBe(202);
    expect(sink.events.map((e) => [e.attributes["type"], e.attributes["subject"]])).toEqual([
      ["dev.knative.source.github.pull_request", "7"],
    ]);
  });

  it("reads form-encoded deliveries (content type form) and forwards the JSON payload", async () => {
    const url = await serve();
    const form = new URLSearchParams({ payload: PUSH }).toString();
    const answer = await post(url, form, {
      ...signed(form, "push"),
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(answer.status).toBe(202);
    expect(sink.events[0]?.data?.toString()).toBe(PUSH);
  });

  it("answers 502 when the sink refused the event, so GitHub records a failed delivery", async () => {
    failFirst = true;
    const url = await serve();
    const answer = await post(url, PUSH, signed(PUSH, "push"));
    expect(answer.status).toBe(502);
    expect(answer.body?.["code"]).toBe("SINK_FAILED");
    expect(sink.requests).toHaveLength(1);
  });

  it("refuses every delivery with 401 when its Secret is missing (nothing can be verified)", async () => {
    const url = await serve({}, null);
    const answer = await post(url, PUSH, signed(PUSH, "push"));
    expect(answer.status).toBe(401);
    expect(String(answer.body?.["error"])).toContain("Secret default/github");
    expect(sink.requests).toHaveLength(0);
  });

  it("takes the repository from the payload when spec.ownerAndRepository names only an owner", async () => {
    const url = await serve({ ownerAndRepository: "acme" });
    await post(url, PUSH, signed(PUSH, "push"));
    const org = JSON.stringify({ action: "member_added", organization: { login: "acme-corp" } });
    await post(url, org, signed(org, "organization"));
    expect(sink.events.map((e) => e.attributes["source"])).toEqual([
      "https://github.com/acme/widgets",
      "https://github.com/acme-corp",
    ]);
  });
});
