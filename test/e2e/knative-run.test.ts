/**
 * `eventail run` (the built command) serving Knative-shaped manifests unchanged (issue 15): a
 * Trigger whose subscriber is a `v1 Service` mapped with `--service`, beside what cannot run
 * standalone (an image-only ContainerSource, a SinkBinding of a Deployment), and a Broker on
 * Knative's own Kafka broker ConfigMap (kafka from the librdkafka mock cluster).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterEach, describe, expect, it } from "vitest";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import { startKafkaEngine } from "../support/kafka-engine.js";
import { eventually, type RecordingSink, startSink } from "../support/sink.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await stopEventailProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function manifestsDir(yaml: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-knative-"));
  writeFileSync(path.join(dir, "manifests.yaml"), yaml);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function sink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

async function send(url: string, id: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/knative-run",
      "ce-type": "dev.knative.samples.helloworld",
      "content-type": "application/json",
    },
    body: JSON.stringify({ msg: "hello" }),
  });
  await response.arrayBuffer();
  return response.status;
}

const TRIGGER_TO_SERVICE = `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: event-display
spec:
  broker: default
  filter:
    attributes:
      type: dev.knative.samples.helloworld
  subscriber:
    ref:
      apiVersion: v1
      kind: Service
      name: event-display
`;

describe.skipIf(!eventailBuilt())("eventail run with Knative-shaped manifests", () => {
  it("delivers to a v1 Service mapped with --service, logs what cannot run standalone, and runs the rest", async () => {
    const display = await sink();
    const dir = manifestsDir(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
---${TRIGGER_TO_SERVICE}---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: heartbeats
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/heartbeats
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata:
  name: bind-heartbeat
spec:
  subject:
    apiVersion: apps/v1
    kind: Deployment
    selector:
      matchLabels:
        app: heartbeat
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
`);
    const eventail = await EventailProcess.start("knative-service", {
      manifests: [dir],
      args: ["--service", `default/event-display=${display.url}`],
    });
    const id = randomUUID();
    expect(await send(`${eventail.url}/default/default`, id)).toBe(202);
    await display.waitFor(1);
    expect(display.events.map((event) => event.attributes.id)).toEqual([id]);
    const log = eventail.output();
    expect(log).toMatch(/"msg":"ContainerSource not run: standalone Eventail cannot run an image/);
    expect(log).toMatch(
      /SinkBinding\/default\/bind-heartbeat spec\.subject warning: not applicable standalone/,
    );
    // Mapped by the flag, the Service is never sent to its cluster address.
    expect(log).not.toMatch(/svc\.cluster\.local/);
  });

  it("refuses a malformed --service as bad usage (exit 2), naming the flag", async () => {
    const dir = manifestsDir(`apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
`);
    await expect(
      EventailProcess.start("bad-service", {
        manifests: [dir],
        args: ["--service", "event-display=http://127.0.0.1:1/"],
        readyTimeoutMs: 15_000,
      }),
    ).rejects.toThrow(/exited with 2[\s\S]*--service[\s\S]*expected NAMESPACE\/NAME=URL/);
  });

  it("runs a Broker on Knative's Kafka broker ConfigMap (no data.backing) on that Kafka", async () => {
    const engine = await startKafkaEngine();
    cleanups.push(() => engine.stop());
    const display = await sink();
    const dir = manifestsDir(`apiVersion: v1
kind: ConfigMap
metadata:
  name: kafka-broker-config
  namespace: knative-eventing
data:
  default.topic.partitions: "2"
  default.topic.replication.factor: "3"
  bootstrap.servers: "${engine.brokers}"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  annotations:
    eventing.knative.dev/broker.class: Kafka
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: kafka-broker-config
    namespace: knative-eventing
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: eventail-services
data:
  event-display: ${display.url}
---${TRIGGER_TO_SERVICE}`);
    const eventail = await EventailProcess.start("knative-kafka", {
      manifests: [dir],
      readyTimeoutMs: 60_000,
    });
    const id = randomUUID();
    expect(await send(`${eventail.url}/default/default`, id)).toBe(202);
    await display.waitFor(1, 30_000);
    expect(display.events.map((event) => event.attributes.id)).toEqual([id]);
    // The event went through that Kafka: the broker's topic is there.
    const admin = new Kafka({
      brokers: engine.brokers.split(","),
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    cleanups.push(() => admin.disconnect());
    let topics: string[] = [];
    await eventually(
      async () => {
        topics = await admin.listTopics();
        return topics.includes("eventail.broker.default.default");
      },
      10_000,
      "the broker's topic on the mock cluster",
    );
  });
});
