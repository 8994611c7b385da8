import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { JobSink } from "../../src/sinks/job/job-sink.js";
import { eventually, ownToken, startWithManifests } from "../support/sink.js";

const SCRIPT = path.resolve(import.meta.dirname, "../fixtures/jobsink/record-job.mjs");

type Running = Awaited<ReturnType<typeof startWithManifests>>;

let out: string;
let running: Running;
let logs: string[];

beforeEach(() => {
  out = mkdtempSync(path.join(tmpdir(), "eventail-jobsink-test-"));
  logs = [];
});
afterEach(async () => {
  await running?.close();
  rmSync(out, { recursive: true, force: true });
});

function jobSinkYaml(name: string, container: string, annotations = ""): string {
  return `apiVersion: sinks.knative.dev/v1alpha1
kind: JobSink
metadata:
  name: ${name}
  namespace: default
${annotations}spec:
  job:
    spec:
      completions: 1
      template:
        spec:
          restartPolicy: Never
          containers:
${container}`;
}

/** The recording job: `node record-job.mjs --from-test`, writing to the test's folder. */
function recordingJob(name = "jobs", annotations = ""): string {
  return jobSinkYaml(
    name,
    `            - name: main
              image: docker.io/library/node:20
              command: [node, ${JSON.stringify(SCRIPT)}]
              args: [--from-test]
              env:
                - name: JOB_OUT
                  value: ${JSON.stringify(out)}
`,
    annotations,
  );
}

async function start(yaml: string): Promise<Running> {
  const logger = pino({ level: "info" }, { write: (line: string) => logs.push(line) });
  running = await startWithManifests(yaml, { logger });
  return running;
}

async function post(id: string, data: Record<string, unknown> = {}, source = "/orders") {
  const response = await fetch(`${running.url}/sinks/default/jobs`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": source,
      "ce-type": "dev.example.order",
      "content-type": "application/json",
    },
    body: JSON.stringify(data),
  });
  return { status: response.status, location: response.headers.get("location"), response };
}

/** GET at a Location, as a Knative client asks how its job went. */
async function jobState(location: string) {
  const response = await fetch(new URL(location, running.url));
  return { status: response.status, reason: response.headers.get("reason") };
}

function recorded(id: string) {
  return JSON.parse(readFileSync(path.join(out, `${encodeURIComponent(id)}.json`), "utf8")) as {
    stdin: string;
    fromFile: string;
    eventPath: string;
    executionMode: string;
    argv: string[];
  };
}

const runs = () =>
  existsSync(path.join(out, "runs.log"))
    ? readFileSync(path.join(out, "runs.log"), "utf8").split("\n").filter(Boolean)
    : [];
const release = (id: string) => writeFileSync(path.join(out, `release-${id}`), "");
const sinkRuntime = () => running.reconciler.sink("default", "jobs") as JobSink;

describe("JobSink end to end", () => {
  it("runs the job with the event as structured JSON on stdin and in $K_EVENT_PATH, answers 202 with Knative's Location, then removes the file", async () => {
    await start(recordingJob());
    const { status, location } = await post("order-1", { total: 12 }, "/shop/orders");
    expect(status).toBe(202);
    expect(location).toBe("/namespaces/default/name/jobs/sources/%2Fshop%2Forders/ids/order-1");
    await eventually(async () => (await jobState(location!)).status === 200, 15_000, "job done");
    const job = recorded("order-1");
    expect(job.fromFile).toBe(job.stdin);
    expect(JSON.parse(job.stdin)).toEqual({
      specversion: "1.0",
      id: "order-1",
      source: "/shop/orders",
      type: "dev.example.order",
      datacontenttype: "application/json",
      data: { total: 12 },
    });
    expect(job.argv).toEqual(["--from-test"]);
    expect(job.executionMode).toBe("batch");
    expect(existsSync(job.eventPath)).toBe(false);
    expect(await jobState(location!)).toEqual({ status: 200, reason: "Complete" });
  });

  it("starts no second job for an event seen before (same source and id), running or finished, and answers with the same Location", async () => {
    await start(recordingJob());
    const first = await post("dup-1", { hold: true });
    expect(first.status).toBe(202);
    await eventually(() => runs().length === 1, 15_000, "the first job to run");
    const again = await post("dup-1", { hold: true });
    expect(again).toMatchObject({ status: 202, location: first.location });
    // A second job for the event would hold too (no release file for it yet), so still be running.
    expect(sinkRuntime().runningJobs).toBe(1);
    expect(await jobState(first.location!)).toEqual({ status: 202, reason: null });
    release("dup-1");
    await eventually(async () => (await jobState(first.location!)).status === 200, 15_000);
    rmSync(path.join(out, "release-dup-1"));
    const late = await post("dup-1", { hold: true });
    expect(late).toMatchObject({ status: 202, location: first.location });
    expect(sinkRuntime().runningJobs).toBe(0);
    // The same id from another source is another event: it gets a job of its own.
    const other = await post("dup-1", {}, "/elsewhere");
    expect(other.location).not.toBe(first.location);
    await eventually(() => runs().length === 2, 15_000, "the other source's job");
    expect(runs()).toEqual(["dup-1", "dup-1"]);
  });

  it("logs and counts each exit code, and a failed job reads 400 Reason: Failed at its Location", async () => {
    await start(recordingJob());
    const ok = await post("exit-0");
    const failed = await post("exit-3", { exit: 3 });
    await eventually(async () => (await jobState(failed.location!)).status === 400, 15_000);
    expect(await jobState(failed.location!)).toEqual({ status: 400, reason: "Failed" });
    await eventually(async () => (await jobState(ok.location!)).status === 200, 15_000);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toContain(
      'eventail_jobsink_job_exits_total{namespace="default",jobsink="jobs",code="3"} 1',
    );
    expect(metrics).toContain(
      'eventail_jobsink_job_exits_total{namespace="default",jobsink="jobs",code="0"} 1',
    );
    const exits = logs.map((line) => JSON.parse(line)).filter((l) => l.msg === "job exited");
    expect(exits.map((l) => [l.id, l.exitCode]).sort()).toEqual([
      ["exit-0", 0],
      ["exit-3", 3],
    ]);
  });

  it("answers 429 with Retry-After once eventail.io/jobsink.max-running jobs run, and takes events again when one ends", async () => {
    await start(recordingJob("jobs", '  annotations:\n    eventail.io/jobsink.max-running: "1"\n'));
    expect((await post("busy-1", { hold: true })).status).toBe(202);
    const refused = await post("busy-2");
    expect(refused.status).toBe(429);
    expect(refused.response.headers.get("retry-after")).toBe("1");
    expect(await refused.response.json()).toMatchObject({ code: "OVER_CAPACITY" });
    release("busy-1");
    await eventually(() => sinkRuntime().runningJobs === 0, 15_000, "the first job to end");
    expect((await post("busy-2")).status).toBe(202);
  });

  it("a reload that changes the job template keeps the running jobs and what they ran: an event seen before still starts nothing", async () => {
    await start(recordingJob());
    const first = await post("reload-1", { hold: true });
    await eventually(() => runs().length === 1, 15_000, "the first job to run");
    writeFileSync(running.file, recordingJob().replace("[--from-test]", "[--after-reload]"));
    expect(await running.reload()).toEqual([]);
    expect(sinkRuntime().runningJobs).toBe(1);
    expect(await post("reload-1", { hold: true })).toMatchObject({
      status: 202,
      location: first.location,
    });
    const next = await post("reload-2");
    await eventually(async () => (await jobState(next.location!)).status === 200, 15_000);
    expect(recorded("reload-2").argv).toEqual(["--after-reload"]);
    release("reload-1");
    await eventually(async () => (await jobState(first.location!)).status === 200, 15_000);
    expect(runs().sort()).toEqual(["reload-1", "reload-2"]);
  });

  it("eventail run starts with a manifest that only warns, and logs the warning", async () => {
    await start(jobSinkYaml("jobs", "            - name: main\n              image: busybox\n"));
    const warnings = logs
      .map((line) => JSON.parse(line))
      .filter((l) => typeof l.issue === "string");
    expect(warnings.map((l) => l.level)).toEqual([40]);
    expect(warnings[0].issue).toContain(
      "JobSink/default/jobs spec.job.spec.template.spec.containers[0].command warning: no command",
    );
  });

  it.each([
    [
      "a container with only an image",
      "            - name: main\n              image: docker.io/library/busybox\n",
      "images are not run",
    ],
    [
      "a command that does not exist",
      "            - name: main\n              command: [/nonexistent/eventail-job]\n",
      "ENOENT",
    ],
  ])("%s answers 503 SINK_UNAVAILABLE and remembers nothing", async (_name, container, reason) => {
    await start(jobSinkYaml("jobs", container));
    for (let i = 0; i < 2; i++) {
      const { status, response } = await post("cannot-run");
      expect(status).toBe(503);
      const body = (await response.json()) as { code: string; error: string };
      expect(body.code).toBe("SINK_UNAVAILABLE");
      expect(body.error).toContain(reason);
    }
    expect(sinkRuntime().job("/orders", "cannot-run")).toBeUndefined();
  });

  it("with authentication on, asking how a job went needs a token for the JobSink, as posting does", async () => {
    await start(
      `apiVersion: v1
kind: ConfigMap
metadata: {name: config-features, namespace: knative-eventing}
data:
  authentication-oidc: enabled
---
${recordingJob()}`,
    );
    const audience = "sinks.knative.dev/jobsink/default/jobs";
    const token = ownToken(running, "system:serviceaccount:default:producer", audience);
    const authorization = { authorization: `Bearer ${token}` };
    const response = await fetch(`${running.url}/sinks/default/jobs`, {
      method: "POST",
      headers: {
        "ce-specversion": "1.0",
        "ce-id": "guarded-1",
        "ce-source": "/orders",
        "ce-type": "dev.example.order",
        "content-type": "application/json",
        ...authorization,
      },
      body: "{}",
    });
    expect(response.status).toBe(202);
    const location = new URL(response.headers.get("location")!, running.url);
    expect((await fetch(location)).status).toBe(401);
    const other = ownToken(running, "system:serviceaccount:elsewhere:someone", audience);
    // allow-same-namespace, the default: a sender of another namespace may not ask either.
    expect((await fetch(location, { headers: { authorization: `Bearer ${other}` } })).status).toBe(
      403,
    );
    await eventually(
      async () => (await fetch(location, { headers: authorization })).status === 200,
      15_000,
      "job done, asked with the token",
    );
  });
});
