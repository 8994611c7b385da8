/**
 * The runtime side of Knative-shaped manifests (issue 15), in process over real sockets: a Broker
 * without config on Knative's config-br-defaults, a Trigger's brokerRef across namespaces, a
 * Service ref mapped by ConfigMap eventail-services, and a SinkBinding of a ContainerSource.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function sink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

async function eventail(yaml: string) {
  const running = await startWithManifests(yaml, { drainMs: 1_000 });
  cleanups.push(() => running.close());
  return running;
}

async function send(url: string, id: string): Promise<number> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/knative-manifests",
      "ce-type": "dev.example.order",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.arrayBuffer();
  return response.status;
}

const broker = (name: string, namespace: string) => `---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: ${name}
  namespace: ${namespace}
`;

const trigger = (namespace: string, brokerSpec: string, subscriber: string) => `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: orders
  namespace: ${namespace}
spec:
${brokerSpec}
  subscriber:
${subscriber}`;

const uri = (url: string) => `    uri: ${url}\n`;

describe("Knative-shaped manifests at run time", () => {
  it("runs a Broker without spec.config on config-br-defaults' channel template (InMemoryChannel)", async () => {
    const display = await sink();
    const running = await eventail(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-br-defaults
  namespace: knative-eventing
data:
  default-br-config: |
    clusterDefault:
      brokerClass: MTChannelBasedBroker
      apiVersion: v1
      kind: ConfigMap
      name: config-br-default-channel
      namespace: knative-eventing
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-br-default-channel
  namespace: knative-eventing
data:
  channel-template-spec: |
    apiVersion: messaging.knative.dev/v1
    kind: InMemoryChannel
${broker("default", "default")}${trigger("default", "  broker: default", uri(display.url))}`);
    const id = randomUUID();
    expect(await send(`${running.url}/default/default`, id)).toBe(202);
    await display.waitFor(1);
    expect(display.events.map((event) => event.attributes.id)).toEqual([id]);
  });

  it("routes a Trigger's brokerRef to the Broker of another namespace when the flag allows it", async () => {
    const display = await sink();
    const running = await eventail(`apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
  cross-namespace-event-links: enabled
${broker("hub", "platform")}${trigger(
  "team-a",
  "  brokerRef:\n    apiVersion: eventing.knative.dev/v1\n    kind: Broker\n    name: hub\n    namespace: platform",
  uri(display.url),
)}`);
    const id = randomUUID();
    expect(await send(`${running.url}/platform/hub`, id)).toBe(202);
    await display.waitFor(1);
    expect(display.events.map((event) => event.attributes.id)).toEqual([id]);
  });

  it("sends a Service ref where ConfigMap eventail-services maps it, a relative uri resolved against it", async () => {
    const display = await sink();
    const running = await eventail(`apiVersion: v1
kind: ConfigMap
metadata:
  name: eventail-services
  namespace: default
data:
  event-display: ${display.url}/base/
${broker("default", "default")}${trigger(
  "default",
  "  broker: default",
  "    ref:\n      apiVersion: serving.knative.dev/v1\n      kind: Service\n      name: event-display\n    uri: events\n",
)}`);
    const id = randomUUID();
    expect(await send(`${running.url}/default/default`, id)).toBe(202);
    const [request] = await display.waitFor(1);
    expect(request!.event?.attributes.id).toBe(id);
    expect(request!.path).toBe("/base/events");
  });

  it("gives a ContainerSource bound by a SinkBinding the binding's K_SINK and K_CE_OVERRIDES", async () => {
    const own = await sink();
    const bound = await sink();
    // Posts one event to $K_SINK with the K_CE_OVERRIDES extensions, then idles.
    const emitter = [
      "const ext = JSON.parse(process.env.K_CE_OVERRIDES || '{}').extensions || {};",
      "const headers = { 'ce-specversion': '1.0', 'ce-id': 'bound-1', 'ce-source': '/emitter',",
      "  'ce-type': 'dev.example.tick', 'content-type': 'application/json' };",
      "for (const [k, v] of Object.entries(ext)) headers['ce-' + k] = v;",
      "await fetch(process.env.K_SINK, { method: 'POST', headers, body: '{}' });",
      "setInterval(() => {}, 1 << 30);",
    ].join(" ");
    await eventail(`apiVersion: sources.knative.dev/v1
kind: ContainerSource
metadata:
  name: emitter
  labels:
    app: emitter
spec:
  template:
    spec:
      containers:
        - name: emitter
          command: [${JSON.stringify(process.execPath)}, --input-type=module, -e, ${JSON.stringify(emitter)}]
  sink:
    uri: ${own.url}
  ceOverrides:
    extensions:
      team: own
---
apiVersion: sources.knative.dev/v1
kind: SinkBinding
metadata:
  name: bind-emitter
spec:
  subject:
    apiVersion: sources.knative.dev/v1
    kind: ContainerSource
    selector:
      matchLabels:
        app: emitter
  sink:
    uri: ${bound.url}
  ceOverrides:
    extensions:
      team: bound
`);
    await bound.waitFor(1);
    expect(bound.events.map((event) => [event.attributes.id, event.attributes["team"]])).toEqual([
      ["bound-1", "bound"],
    ]);
    expect(own.requests).toEqual([]);
  });
});
