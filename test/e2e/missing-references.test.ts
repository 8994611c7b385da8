/**
 * Manifests naming what is not among them (a Trigger's Broker, a source's sink, a Broker's
 * ConfigMap), as Knative accepts them (issue 15): Eventail runs the rest, warns once, leaves what
 * depends on the missing resource stopped, and starts it when a reload adds what was missing.
 * Beside them, the inert documents of a Knative example (its Service, its Deployment).
 */
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/observability/logger.js";
import {
  EventailProcess,
  eventailBuilt,
  stopEventailProcesses,
} from "../support/eventail-process.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  await stopEventailProcesses();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

async function send(url: string, id = randomUUID()): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/missing-references",
      "ce-type": "dev.example.order",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.arrayBuffer();
  return response.status;
}

/**
 * Sends until the sink has an event: right after a reload the broker may take events a moment
 * before its new trigger has subscribed, and those are not the trigger's to deliver.
 */
async function sendUntilDelivered(url: string, to: RecordingSink): Promise<void> {
  const sent = new Set<string>();
  await eventually(
    async () => {
      const id = randomUUID();
      if ((await send(url, id)) === 202) sent.add(id);
      return to.events.some((event) => sent.has(String(event.attributes.id)));
    },
    20_000,
    "a delivery through the trigger",
  );
}

/** A logger whose JSON lines land in `lines`, for what the runtime says about waiting. */
function capturedLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const text of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(text));
      done();
    },
  });
  return { logger: createLogger({ level: "info", destination }), lines };
}

const CONFIG_MAP = `---
apiVersion: v1
kind: ConfigMap
metadata:
  name: memory-config
data:
  backing: memory
`;

describe.skipIf(!eventailBuilt())("eventail run: a Trigger whose Broker is missing", () => {
  it("runs and warns; the Trigger delivers once rewriting the file adds the Broker", async () => {
    const display = await sink();
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-missing-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "manifests.yaml");
    const trigger = triggerYaml("orders", display.url);
    writeFileSync(file, trigger);
    const eventail = await EventailProcess.start("missing-broker", { manifests: [dir] });

    expect(eventail.output()).toMatch(
      /Trigger\/default\/orders spec\.broker warning: Broker default\/default is not among the manifests: this Trigger delivers nothing until it is added/,
    );
    expect(await send(`${eventail.url}/default/default`)).toBe(404);

    // A reload that still leaves the Broker out: the runtime said so once, and says nothing new.
    writeFileSync(file, trigger + CONFIG_MAP);
    await eventually(
      () => eventail.output().match(/"msg":"manifests reloaded"/g)?.length === 1,
      20_000,
      "the first reload",
    );
    expect(eventail.output().match(/trigger waits for its broker to run/g)).toHaveLength(1);

    writeFileSync(file, brokerYaml() + trigger + CONFIG_MAP);
    await sendUntilDelivered(`${eventail.url}/default/default`, display);
  });
});

describe("in process: what names a missing resource waits for it", () => {
  it("a ContainerSource whose sink Broker is missing does not start until the Broker is added", async () => {
    const display = await sink();
    const marker = path.join(mkdtempSync(path.join(tmpdir(), "eventail-marker-")), "started");
    cleanups.push(() => rmSync(path.dirname(marker), { recursive: true, force: true }));
    // Marks that it ran, then posts an event to $K_SINK every 100 ms.
    const emitter = [
      `import('node:fs').then((fs) => fs.writeFileSync(${JSON.stringify(marker)}, 'started'));`,
      "let n = 0;",
      "setInterval(() => fetch(process.env.K_SINK, { method: 'POST', headers: {",
      "  'ce-specversion': '1.0', 'ce-id': 'tick-' + n++, 'ce-source': '/emitter',",
      "  'ce-type': 'dev.example.tick', 'content-type': 'application/json' }, body: '{}' })",
      "  .catch(() => {}), 100);",
    ].join(" ");
    const source = `---
apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: emitter
spec:
  template:
    spec:
      containers:
        - name: emitter
          command: [${JSON.stringify(process.execPath)}, --input-type=module, -e, ${JSON.stringify(emitter)}]
  sink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: default
`;
    const trigger = triggerYaml("ticks", display.url);
    const { logger, lines } = capturedLogger();
    const running = await startWithManifests(source + trigger, { logger, drainMs: 1_000 });
    cleanups.push(() => running.close());
    const waiting = () =>
      lines.filter(
        (line) =>
          line["msg"] === "source waits: something it names is not among the manifests" &&
          line["source"] === "ContainerSource/default/emitter",
      );
    expect(waiting().map((line) => line["missing"])).toEqual([
      "Broker default/default is not among the manifests",
    ]);
    expect(await running.reconciler.readiness()).toMatchObject({ reconciled: true });

    // Still missing after a reload: not said again.
    writeFileSync(running.file, source + trigger + CONFIG_MAP);
    expect(await running.reload()).toEqual([]);
    expect(waiting()).toHaveLength(1);
    expect(existsSync(marker)).toBe(false);

    writeFileSync(running.file, brokerYaml() + source + trigger);
    expect(await running.reload()).toEqual([]);
    await display.waitFor(1, 20_000);
    expect(existsSync(marker)).toBe(true);
    expect(display.events[0]!.attributes.type).toBe("dev.example.tick");
  });

  it("a Broker whose ConfigMap is missing answers 404 until the ConfigMap is added", async () => {
    const display = await sink();
    const broker = brokerYaml(
      "default",
      "spec:\n  config:\n    apiVersion: v1\n    kind: ConfigMap\n    name: memory-config\n",
    );
    const trigger = triggerYaml("orders", display.url);
    const { logger, lines } = capturedLogger();
    const running = await startWithManifests(broker + trigger, { logger, drainMs: 1_000 });
    cleanups.push(() => running.close());

    expect(await send(`${running.url}/default/default`)).toBe(404);
    expect(
      lines
        .filter(
          (line) => line["msg"] === "broker waits: its configuration is not among the manifests",
        )
        .map((line) => [line["broker"], line["missing"]]),
    ).toEqual([["default/default", "ConfigMap default/memory-config is not among the manifests"]]);
    expect(await running.reconciler.readiness()).toMatchObject({ reconciled: true });

    writeFileSync(running.file, broker + trigger + CONFIG_MAP);
    expect(await running.reload()).toEqual([]);
    await sendUntilDelivered(`${running.url}/default/default`, display);
  });

  it("a KafkaSink whose auth Secret is missing is not served, and the rest runs", async () => {
    const { logger, lines } = capturedLogger();
    const running = await startWithManifests(
      `${brokerYaml()}---
apiVersion: eventing.knative.dev/v1alpha1
kind: KafkaSink
metadata:
  name: orders
spec:
  topic: orders
  bootstrapServers: ["127.0.0.1:9"]
  auth:
    secret:
      ref:
        name: kafka-auth
`,
      { logger, drainMs: 1_000 },
    );
    cleanups.push(() => running.close());
    expect(await send(`${running.url}/sinks/default/orders`)).toBe(404);
    expect(await send(`${running.url}/default/default`)).toBe(202);
    expect(
      lines
        .filter(
          (line) => line["msg"] === "sink waits: something it names is not among the manifests",
        )
        .map((line) => [line["sink"], line["missing"]]),
    ).toEqual([
      ["KafkaSink/default/orders", "Secret default/kafka-auth is not among the manifests"],
    ]);
    expect(await running.reconciler.readiness()).toMatchObject({ reconciled: true });
  });

  it("the Service and Deployment of a Knative example are inert: never stored, the Service mapped", async () => {
    const display = await sink();
    const running = await startWithManifests(`${brokerYaml()}---
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: event-display
spec:
  template:
    spec:
      containers:
        - image: gcr.io/knative-releases/knative.dev/eventing/cmd/event_display
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: event-display
spec:
  replicas: 1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: eventail-services
data:
  event-display: ${display.url}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-display
spec:
  broker: default
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: event-display
`);
    cleanups.push(() => running.close());
    expect(running.store.list("Service")).toEqual([]);
    expect(running.store.list("Deployment")).toEqual([]);
    await sendUntilDelivered(`${running.url}/default/default`, display);
  });

  it("a Trigger whose subscriber is a missing EventTransform waits, and delivers once it is added", async () => {
    const display = await sink();
    const withSubscriber = (subscriber: string) => `${brokerYaml()}---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-transform
spec:
  broker: default
  subscriber:
    ${subscriber}
`;
    const transform = `---
apiVersion: eventing.knative.dev/v1alpha1
kind: EventTransform
metadata:
  name: stamp
spec:
  sink:
    uri: ${display.url}
  jsonata:
    expression: '$merge([$, {"stamped": "yes"}])'
`;
    const toTransform = withSubscriber(
      "ref:\n      apiVersion: eventing.knative.dev/v1alpha1\n      kind: EventTransform\n      name: stamp",
    );
    const { logger, lines } = capturedLogger();
    const running = await startWithManifests(toTransform, { logger, drainMs: 1_000 });
    cleanups.push(() => running.close());
    expect(
      lines
        .filter((line) => line["trigger"] === "default/to-transform")
        .map((line) => [line["msg"], line["missing"]]),
    ).toEqual([
      [
        "trigger waits: something it names is not among the manifests",
        "EventTransform default/stamp is not among the manifests",
      ],
    ]);

    writeFileSync(running.file, toTransform + transform);
    expect(await running.reload()).toEqual([]);
    await sendUntilDelivered(`${running.url}/default/default`, display);
    expect(display.events.at(-1)!.attributes["stamped"]).toBe("yes");
  });
});
