/**
 * The status the runtime gives each resource as it reconciles (CONTRACT §11): a Trigger that
 * cannot deliver is not Ready, with a reason a user understands. Each case runs a whole Eventail
 * on its manifests, so the facts are the runtime's own.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { DestinationError } from "../../src/resources/addresses.js";
import type { Condition } from "../../src/resources/status.js";
import type { Resource, TriggerSpec } from "../../src/resources/types.js";
import type { RunningEventail } from "../../src/runtime/eventail.js";
import {
  computeStatus,
  type RunState,
  type StatusFacts,
} from "../../src/runtime/resource-status.js";
import { brokerYaml, eventually, startWithManifests, triggerYaml } from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function eventail(yaml: string): Promise<RunningEventail> {
  const running = await startWithManifests(yaml);
  cleanups.push(() => running.close());
  return running;
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function ready(running: RunningEventail, kind: string, name: string): Condition | undefined {
  return running.statuses
    .get(kind, "default", name)
    ?.status.conditions.find((c) => c.type === "Ready");
}

const SUBSCRIBER = "http://127.0.0.1:1/hook";

function resource(
  kind: string,
  name: string,
  spec: unknown,
  apiVersion = "eventing.knative.dev/v1",
): Resource {
  return {
    apiVersion,
    kind,
    metadata: { name, namespace: "default" },
    spec,
    origin: { file: "t.yaml", line: 1 },
  };
}

const broker = resource("Broker", "default", {});
const trigger = (spec: Partial<TriggerSpec>) =>
  resource("Trigger", "t", { broker: "default", subscriber: { uri: SUBSCRIBER }, ...spec });

/** Facts as a runtime would give them: `present` exists, `states` says what runs. */
function facts(present: Resource[], states: Record<string, RunState>): StatusFacts {
  return {
    find: (kind, namespace, name) =>
      present.find(
        (r) => r.kind === kind && r.metadata.namespace === namespace && r.metadata.name === name,
      ),
    resolve: (destination) => {
      if (destination.uri) return destination.uri;
      throw new DestinationError("cannot resolve a ref to Service x in standalone mode", "ref");
    },
    address: () => undefined,
    run: (r) => states[`${r.kind}/${r.metadata.name}`],
  };
}

const RUNNING: RunState = { state: "running" };

describe("trigger status, from the runtime's facts", () => {
  it.each([
    {
      name: "broker missing → BrokerDoesNotExist",
      present: [],
      states: {
        "Trigger/t": {
          state: "failed",
          reason: "BrokerNotReady",
          message: "its broker does not run",
        },
      },
      subject: trigger({}),
      reason: "BrokerDoesNotExist",
    },
    {
      name: "broker present but down → BrokerNotReady",
      present: [broker],
      states: {
        "Broker/default": {
          state: "failed",
          reason: "BackingUnavailable",
          message: "ECONNREFUSED",
        },
      },
      subject: trigger({}),
      reason: "BrokerNotReady",
    },
    {
      name: "subscriber ref to a sink that does not exist → SubscriberNotResolved",
      present: [broker],
      states: { "Broker/default": RUNNING, "Trigger/t": RUNNING },
      subject: trigger({
        subscriber: {
          ref: { apiVersion: "sinks.knative.dev/v1alpha1", kind: "IntegrationSink", name: "ghost" },
        },
      }),
      reason: "SubscriberNotResolved",
    },
    {
      name: "subscriber ref that cannot become a URL → SubscriberNotResolved",
      present: [broker],
      states: { "Broker/default": RUNNING, "Trigger/t": RUNNING },
      subject: trigger({
        subscriber: { ref: { apiVersion: "example.com/v1", kind: "Thing", name: "x" } },
      }),
      reason: "SubscriberNotResolved",
    },
    {
      name: "consumer could not subscribe → ConsumerNotSubscribed",
      present: [broker],
      states: {
        "Broker/default": RUNNING,
        "Trigger/t": { state: "failed", reason: "ConsumerNotSubscribed", message: "engine down" },
      },
      subject: trigger({}),
      reason: "ConsumerNotSubscribed",
    },
    {
      name: "not reconciled yet → Unknown, not True",
      present: [broker],
      states: { "Broker/default": RUNNING },
      subject: trigger({}),
      reason: "NotReconciled",
      status: "Unknown",
    },
  ] as const)("$name", ({ present, states, subject, reason, ...rest }) => {
    const status = computeStatus(facts([...present], states as Record<string, RunState>), subject);
    const condition = status.conditions[0]!;
    expect(condition.type).toBe("Ready");
    expect(condition.status).toBe("status" in rest ? rest.status : "False");
    expect(condition.reason).toBe(reason);
    expect(condition.message).toBeTruthy();
  });

  it("a ready trigger reports its subscriber and dead letter sink URIs and generation", () => {
    const subject = {
      ...trigger({ delivery: { deadLetterSink: { uri: "http://127.0.0.1:2/dls" } } }),
      metadata: { name: "t", namespace: "default", generation: 4 },
    };
    const status = computeStatus(
      facts([broker], { "Broker/default": RUNNING, "Trigger/t": RUNNING }),
      subject,
    );
    expect(status.conditions.map((c) => [c.type, c.status])).toEqual([
      ["Ready", "True"],
      ["BrokerReady", "True"],
      ["SubscriberResolved", "True"],
      ["DeadLetterSinkResolved", "True"],
      ["SubscriptionReady", "True"],
    ]);
    expect(status.subscriberUri).toBe(SUBSCRIBER);
    expect(status.deadLetterSinkUri).toBe("http://127.0.0.1:2/dls");
    expect(status.observedGeneration).toBe(4);
  });
});

describe("trigger status, from a running Eventail", () => {
  it("a trigger on a running broker with a URI subscriber is Ready, its broker Addressable", async () => {
    const running = await eventail(brokerYaml() + triggerYaml("t", SUBSCRIBER));
    expect(ready(running, "Trigger", "t")?.status).toBe("True");
    const brokerStatus = running.statuses.get("Broker", "default", "default")?.status;
    expect(brokerStatus?.address?.url).toBe(`${running.url}/default/default`);
    expect(brokerStatus?.address?.audience).toBe("eventing.knative.dev/broker/default/default");
    expect(brokerStatus?.conditions.find((c) => c.type === "IngressReady")?.status).toBe("True");
  });

  it("a trigger whose engine is down (Redis at a closed port) is not Ready: ConsumerNotSubscribed", async () => {
    const port = await closedPort();
    const running = await eventail(`apiVersion: v1
kind: ConfigMap
metadata: {name: durable, namespace: default}
data:
  backing: redis
  url: redis://127.0.0.1:${port}
  commandTimeoutMs: "500"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: default, namespace: default}
spec:
  config: {apiVersion: v1, kind: ConfigMap, name: durable}
${triggerYaml("t", SUBSCRIBER)}`);
    await eventually(() => ready(running, "Trigger", "t")?.status === "False", 20_000, "not ready");
    const condition = ready(running, "Trigger", "t");
    expect(condition?.reason).toBe("ConsumerNotSubscribed");
  });
});
