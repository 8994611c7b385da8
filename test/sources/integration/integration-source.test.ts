import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  IntegrationSource,
  type IntegrationSourceSpec,
} from "../../../src/sources/integration/integration-source.js";
import { type RecordingSink, startSink, startWithManifests } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function run(spec: IntegrationSourceSpec, lines: string[] = []) {
  const harness = new SourceHarness();
  const sink: RecordingSink = await harness.recordingSink();
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
  const source = new IntegrationSource("default", "ticks", spec, logger);
  await source.start(harness.sinkTo(sink.url));
  cleanups.push(async () => {
    await source.stop();
    await harness.close();
  });
  return { source, sink };
}

describe("IntegrationSource", () => {
  it("spec.timer emits Knative's timer event repeatCount times and then stops", async () => {
    const { source, sink } = await run({
      timer: {
        period: 20,
        message: '{"hello":"world"}',
        contentType: "application/json",
        repeatCount: 3,
      },
      ceOverrides: { extensions: { team: "blue" } },
    });
    await source.done();
    expect(source.count).toBe(3);
    expect(sink.events).toHaveLength(3);
    for (const event of sink.events) {
      expect(event.attributes).toMatchObject({
        type: "dev.knative.eventing.timer",
        source: "dev.knative.eventing.timer-source",
        subject: "timer-source",
        datacontenttype: "application/json",
        team: "blue",
      });
      expect(JSON.parse(event.data!.toString())).toEqual({ hello: "world" });
    }
    expect(new Set(sink.events.map((e) => e.attributes["id"])).size).toBe(3);
  });

  it("a timer without message or contentType sends the connector's defaults as text/plain", async () => {
    const { source, sink } = await run({ timer: { period: 10, repeatCount: 1 } });
    await source.done();
    expect(sink.events[0]!.attributes["datacontenttype"]).toBe("text/plain");
    expect(sink.events[0]!.data!.toString()).toBe("Timer source event!");
  });

  it.each([
    ["aws.s3", { s3: { arn: "arn:aws:s3:::bucket", region: "eu-west-1" } }],
    ["aws.sqs", { sqs: { arn: "arn:aws:sqs:eu-west-1:1:q", region: "eu-west-1" } }],
    ["aws.ddbStreams", { ddbStreams: { table: "orders", region: "eu-west-1" } }],
  ])("%s cannot run standalone: it says so in the log and emits nothing", async (name, aws) => {
    const lines: string[] = [];
    const { source, sink } = await run(
      { aws: { ...aws, auth: { secret: { ref: { name: "aws" } } } } },
      lines,
    );
    await source.done();
    const warning = lines.map((line) => JSON.parse(line)).find((l) => l.level === 40);
    expect(warning?.msg).toContain("standalone");
    expect(warning?.integration).toBe(name);
    expect(source.count).toBe(0);
    expect(sink.requests).toHaveLength(0);
  });

  it("runs from a manifest: the timer's events reach spec.sink", async () => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const running = await startWithManifests(`apiVersion: sources.knative.dev/v1alpha1
kind: IntegrationSource
metadata:
  name: ticks
  namespace: default
spec:
  timer:
    period: 20
    message: tick
    repeatCount: 2
  sink:
    uri: ${sink.url}
`);
    cleanups.push(() => running.close());
    await sink.waitFor(2);
    expect(sink.events.map((e) => [e.attributes["type"], e.data!.toString()])).toEqual([
      ["dev.knative.eventing.timer", "tick"],
      ["dev.knative.eventing.timer", "tick"],
    ]);
  });
});
