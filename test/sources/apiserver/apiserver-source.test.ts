import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CloudEvent } from "../../../src/events/event.js";
import { createLogger, silentLogger } from "../../../src/observability/logger.js";
import {
  ApiServerSource,
  type ApiServerSourceSpec,
} from "../../../src/sources/apiserver/apiserver-source.js";
import { KubeApiStandIn, type KubeObject } from "../../support/kube-api-stand-in.js";
import { freePort } from "../../support/services.js";
import { eventually, type RecordingSink, startWithManifests } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

let harness: SourceHarness;
let sink: RecordingSink;
let api: KubeApiStandIn;

beforeEach(async () => {
  harness = new SourceHarness();
  sink = await harness.recordingSink();
  api = await new KubeApiStandIn({ bookmarkMs: 100 }).start();
  harness.defer(() => api.close());
});
afterEach(async () => {
  await harness.close();
});

const pod = (name: string, labels: Record<string, string>, namespace = "default"): KubeObject => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace, labels },
  spec: { containers: [{ name: "app", image: "nginx" }] },
});

const WEB_PODS: ApiServerSourceSpec = {
  resources: [{ apiVersion: "v1", kind: "Pod", selector: { matchLabels: { app: "web" } } }],
};

async function start(
  spec: Partial<ApiServerSourceSpec> = {},
  annotations: Record<string, string> = { "eventail.io/apiserver-url": api.url },
  watches = 1,
) {
  const source = new ApiServerSource(
    "default",
    "pods",
    { ...WEB_PODS, ...spec },
    annotations,
    silentLogger(),
  );
  const abort = new AbortController();
  await source.start(harness.sinkTo(sink.url, { retry: 0 }, abort.signal));
  harness.defer(async () => {
    abort.abort();
    await source.stop();
  });
  await eventually(() => api.openWatches >= watches, 10_000, "the source's watches");
  return source;
}

const summary = (events: CloudEvent[]) =>
  events.map(
    (e) => `${String(e.attributes["type"]).split(".").slice(-2).join(".")} ${e.attributes["name"]}`,
  );

describe("ApiServerSource against the API server test double", () => {
  it.each<["Resource" | "Reference", string]>([
    ["Resource", "resource"],
    ["Reference", "ref"],
  ])(
    "reports add, update and delete of a labelled pod in %s mode, and nothing about others",
    async (mode, infix) => {
      await start({ mode });
      api.create(pod("db-1", { app: "db" }));
      api.create(pod("web-1", { app: "web" }));
      api.update("v1", "Pod", "default", "web-1", (o) => ({
        ...o,
        metadata: { ...o.metadata, annotations: { note: "x" } },
      }));
      api.remove("v1", "Pod", "default", "web-1");
      await sink.waitFor(3);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(sink.events.map((e) => e.attributes["type"])).toEqual([
        `dev.knative.apiserver.${infix}.add`,
        `dev.knative.apiserver.${infix}.update`,
        `dev.knative.apiserver.${infix}.delete`,
      ]);
      for (const event of sink.events) {
        expect(event.attributes).toMatchObject({
          source: api.url,
          subject: "/apis/v1/namespaces/default/pods/web-1",
          datacontenttype: "application/json",
          kind: "Pod",
          name: "web-1",
          namespace: "default",
        });
      }
      const data = sink.events.map((e) => JSON.parse(e.data!.toString()));
      if (mode === "Reference") {
        expect(data[0]).toEqual({
          apiVersion: "v1",
          kind: "Pod",
          name: "web-1",
          namespace: "default",
        });
      } else {
        expect(data[0]).toMatchObject({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "web-1", labels: { app: "web" } },
        });
        expect(data[1].metadata.annotations).toEqual({ note: "x" });
      }
    },
  );

  it("does not report objects that existed before it started (as Knative), only later changes", async () => {
    api.create(pod("web-old", { app: "web" }));
    await start();
    api.create(pod("web-new", { app: "web" }));
    await sink.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(summary(sink.events)).toEqual(["ref.add web-new"]);
  });

  it("relists after a 410 during the watch and reports what changed meanwhile: no event lost", async () => {
    await start();
    for (const name of ["web-a", "web-b", "web-c"]) api.create(pod(name, { app: "web" }));
    await sink.waitFor(3);
    api.holdLists();
    api.expire();
    await eventually(() => api.waitingLists === 1, 10_000, "the relist");
    // No watch is open now: only the relist can tell the source about these.
    api.update("v1", "Pod", "default", "web-b", (o) => ({ ...o, spec: { containers: [] } }));
    api.remove("v1", "Pod", "default", "web-c");
    api.create(pod("web-d", { app: "web" }));
    api.releaseLists();
    await eventually(() => api.openWatches === 1, 10_000, "the new watch");
    api.create(pod("web-e", { app: "web" }));
    await sink.waitFor(7);
    expect(summary(sink.events).slice(3).sort()).toEqual(
      ["ref.update web-b", "ref.delete web-c", "ref.add web-d", "ref.add web-e"].sort(),
    );
    const lists = api.requests.filter(
      (r) => r.path === "/api/v1/namespaces/default/pods" && !r.query["watch"],
    );
    expect(lists).toHaveLength(2);
  });

  it("watches with bookmarks and resumes from the bookmarked version when a watch ends, without relisting", async () => {
    await start();
    // Changes outside the selector move the resourceVersion; only bookmarks tell the source.
    api.create(pod("db-1", { app: "db" }));
    api.create(pod("db-2", { app: "db" }));
    const latest = Number(api.create(pod("db-3", { app: "db" })).metadata.resourceVersion);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const watchesBefore = api.requests.filter((r) => r.query["watch"]).length;
    api.endWatches();
    await eventually(
      () => api.requests.filter((r) => r.query["watch"]).length > watchesBefore,
      10_000,
      "a new watch",
    );
    const rewatch = api.requests.filter((r) => r.query["watch"]).at(-1)!;
    expect(rewatch.query["allowWatchBookmarks"]).toBe("true");
    expect(Number(rewatch.query["resourceVersion"])).toBeGreaterThanOrEqual(latest);
    expect(api.requests.filter((r) => !r.query["watch"] && r.path.endsWith("/pods"))).toHaveLength(
      1,
    );
    api.create(pod("web-1", { app: "web" }));
    await sink.waitFor(1);
    expect(summary(sink.events)).toEqual(["ref.add web-1"]);
  });

  it("follows spec.namespaceSelector: namespaces that start matching are watched too", async () => {
    api.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-a", labels: { team: "a" } },
    });
    api.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-b", labels: { team: "b" } },
    });
    await start({ namespaceSelector: { matchLabels: { team: "a" } } }, undefined, 2);
    api.create(pod("web-in-b", { app: "web" }, "team-b"));
    api.create(pod("web-in-a", { app: "web" }, "team-a"));
    await sink.waitFor(1);
    api.update("v1", "Namespace", undefined, "team-b", (o) => ({
      ...o,
      metadata: { ...o.metadata, labels: { team: "a" } },
    }));
    await eventually(() => api.openWatches === 3, 10_000, "a watch on team-b");
    api.create(pod("web-in-b-2", { app: "web" }, "team-b"));
    await eventually(
      () => sink.events.some((e) => e.attributes["name"] === "web-in-b-2"),
      10_000,
      "web-in-b-2",
    );
    // web-in-b was already there when team-b joined: new to this source, so reported as added.
    expect(summary(sink.events).sort()).toEqual([
      "ref.add web-in-a",
      "ref.add web-in-b",
      "ref.add web-in-b-2",
    ]);
    expect(
      sink.events.find((e) => e.attributes["name"] === "web-in-b-2")?.attributes["subject"],
    ).toBe("/apis/v1/namespaces/team-b/pods/web-in-b-2");
  });

  it("with spec.namespaceSelector, does not report objects already in the namespaces matching at start", async () => {
    api.create({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "team-a", labels: { team: "a" } },
    });
    api.create(pod("web-old", { app: "web" }, "team-a"));
    await start({ namespaceSelector: { matchLabels: { team: "a" } } }, undefined, 2);
    api.create(pod("web-new", { app: "web" }, "team-a"));
    // Events reach the sink in the order seen: an add for web-old would come first.
    await sink.waitFor(1);
    expect(summary(sink.events)[0]).toBe("ref.add web-new");
  });

  it.each([
    ["kept", false],
    ["compacted meanwhile (410, relist)", true],
  ])(
    "pauses its watch while the sink is behind, then reports every change in order (history %s)",
    async (_history, compacted) => {
      let open: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        open = resolve;
      });
      const abort = new AbortController();
      const toSink = harness.sinkTo(sink.url, { retry: 0 }, abort.signal);
      const source = new ApiServerSource(
        "default",
        "pods",
        WEB_PODS,
        { "eventail.io/apiserver-url": api.url },
        silentLogger(),
        { maxQueued: 10 },
      );
      await source.start(async (event) => {
        await gate;
        return toSink(event);
      });
      harness.defer(async () => {
        abort.abort();
        open();
        await source.stop();
      });
      await eventually(() => api.openWatches === 1, 10_000, "the source's watch");
      const names = Array.from({ length: 30 }, (_, i) => `web-${String(i).padStart(2, "0")}`);
      for (const name of names.slice(0, 20)) api.create(pod(name, { app: "web" }));
      // The sink takes nothing yet: with 10 changes waiting the source closes its watch.
      await eventually(() => api.openWatches === 0, 10_000, "the source to close its watch");
      // Compacted: watching from where the source stopped answers 410, only a relist helps.
      if (compacted) api.expire();
      // No watch sees these: the API server holds them until the source reads again.
      for (const name of names.slice(20)) api.create(pod(name, { app: "web" }));
      open();
      await sink.waitFor(30);
      await eventually(() => api.openWatches === 1, 10_000, "the source to watch again");
      expect(summary(sink.events)).toEqual(names.map((name) => `ref.add ${name}`));
      const lists = api.requests.filter(
        (r) => r.path === "/api/v1/namespaces/default/pods" && !r.query["watch"],
      );
      expect(lists).toHaveLength(compacted ? 2 : 1);
    },
  );

  it("talks to the cluster a kubeconfig names (eventail.io/kubeconfig), with its bearer token", async () => {
    await api.close();
    api = await new KubeApiStandIn({ token: "t0ken" }).start();
    harness.defer(() => api.close());
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-kubeconfig-"));
    const file = path.join(dir, "config");
    writeFileSync(
      file,
      `apiVersion: v1
kind: Config
clusters:
  - name: double
    cluster: { server: "${api.url}", insecure-skip-tls-verify: true }
users:
  - name: tester
    user: { token: t0ken }
contexts:
  - name: double
    context: { cluster: double, user: tester }
current-context: double
`,
    );
    await start(
      { mode: "Resource", resources: [{ apiVersion: "apps/v1", kind: "Deployment" }] },
      { "eventail.io/kubeconfig": file },
    );
    api.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "shop", namespace: "default" },
    });
    await sink.waitFor(1);
    expect(sink.events[0]?.attributes).toMatchObject({
      type: "dev.knative.apiserver.resource.add",
      subject: "/apis/apps/v1/namespaces/default/deployments/shop",
      kind: "Deployment",
    });
    expect(api.requests.every((r) => r.authorization === "Bearer t0ken")).toBe(true);
  });
});

/** A logger whose JSON lines the test reads. */
function capturedLogger() {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: "info", destination }), lines };
}

describe("ApiServerSource when the Kubernetes API cannot be reached", () => {
  it("logs one warning without a stack while it retries, is not ready, then logs once that it reached the API", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const { logger, lines } = capturedLogger();
    const source = new ApiServerSource(
      "default",
      "pods",
      WEB_PODS,
      { "eventail.io/apiserver-url": url },
      logger,
    );
    const abort = new AbortController();
    await source.start(harness.sinkTo(sink.url, { retry: 0 }, abort.signal));
    harness.defer(async () => {
      abort.abort();
      await source.stop();
    });
    // Discovery retries after 0.5 s, 1 s and 2 s: three failures by then, one line.
    await new Promise((resolve) => setTimeout(resolve, 3_800));
    expect(source.ready()).toBe(false);
    expect(lines.map((line) => line.msg)).toEqual([
      `cannot reach the Kubernetes API at ${url}: ECONNREFUSED; retrying`,
    ]);
    expect(lines[0]!.level).toBe(40);
    expect(JSON.stringify(lines)).not.toMatch(/stack| {4}at /);

    const late = await new KubeApiStandIn({ bookmarkMs: 100 }).start(port);
    harness.defer(() => late.close());
    await eventually(() => source.ready(), 15_000, "the source to reach the API");
    await eventually(() => late.openWatches >= 1, 5_000, "the source's watch");
    expect(lines.map((line) => line.msg)).toEqual([
      `cannot reach the Kubernetes API at ${url}: ECONNREFUSED; retrying`,
      `reached the Kubernetes API at ${url}`,
    ]);
    late.create(pod("late", { app: "web" }));
    await sink.waitFor(1);
  });

  it("is not ready while its watch cannot be re-established, and ready again once it is", async () => {
    const source = await start();
    await eventually(() => source.ready(), 10_000, "the source to be ready");
    const port = Number(new URL(api.url).port);
    await api.close();
    await eventually(() => !source.ready(), 10_000, "the source to say it is not ready");
    // The same address answers again (beforeEach's cleanup closes this one).
    api = await new KubeApiStandIn({ bookmarkMs: 100 }).start(port);
    await eventually(() => source.ready(), 15_000, "the source to be ready again");
    await eventually(() => api.openWatches >= 1, 10_000, "the source's new watch");
    api.create(pod("web-back", { app: "web" }));
    await sink.waitFor(1);
    expect(summary(sink.events)).toEqual(["ref.add web-back"]);
  });

  it("makes /readyz answer 503 naming the source until the API answers, then 200", async () => {
    const port = await freePort();
    const running = await startWithManifests(`apiVersion: sources.knative.dev/v1
kind: ApiServerSource
metadata:
  name: my-apiserversource
  annotations:
    eventail.io/apiserver-url: http://127.0.0.1:${port}
spec:
  mode: Reference
  resources:
    - apiVersion: v1
      kind: Pod
  sink:
    uri: ${sink.url}
`);
    harness.defer(() => running.close());
    const readyz = async () => {
      const response = await fetch(`${running.url}/readyz`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const before = await readyz();
    expect(before.status).toBe(503);
    expect(before.body).toEqual({
      status: "not ready",
      checks: expect.objectContaining({
        reconciled: true,
        "source ApiServerSource/default/my-apiserversource": false,
      }),
    });
    const late = await new KubeApiStandIn().start(port);
    harness.defer(() => late.close());
    await eventually(async () => (await readyz()).status === 200, 15_000, "/readyz 200");
    expect((await readyz()).body["checks"]).toMatchObject({
      "source ApiServerSource/default/my-apiserversource": true,
    });
  });
});
