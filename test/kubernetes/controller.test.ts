import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningController, startController } from "../../src/kubernetes/controller.js";
import { createLogger, silentLogger } from "../../src/observability/logger.js";
import { generateSigningKeyPem, loadSigningKey } from "../../src/security/signing-keys.js";
import {
  APISERVER_URL_ANNOTATION,
  loadKubeConfig,
} from "../../src/sources/apiserver/kube-client.js";
import { type KindInfo, KubeApiStandIn, type KubeObject } from "../support/kube-api-stand-in.js";
import { eventually, type RecordingSink, startSink } from "../support/sink.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

const EVENTING = "eventing.knative.dev/v1";
const KINDS: KindInfo[] = [
  {
    apiVersion: EVENTING,
    kind: "Broker",
    plural: "brokers",
    namespaced: true,
    statusSubresource: true,
  },
  {
    apiVersion: EVENTING,
    kind: "Trigger",
    plural: "triggers",
    namespaced: true,
    statusSubresource: true,
  },
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { apiVersion: "coordination.k8s.io/v1", kind: "Lease", plural: "leases", namespaced: true },
  {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    plural: "services",
    namespaced: true,
    statusSubresource: true,
  },
  {
    apiVersion: "eventing.knative.dev/v1beta2",
    kind: "EventType",
    plural: "eventtypes",
    namespaced: true,
    statusSubresource: true,
  },
  {
    apiVersion: "messaging.knative.dev/v1",
    kind: "InMemoryChannel",
    plural: "inmemorychannels",
    namespaced: true,
    statusSubresource: true,
  },
  {
    apiVersion: "sources.knative.dev/v1",
    kind: "PingSource",
    plural: "pingsources",
    namespaced: true,
    statusSubresource: true,
  },
  {
    apiVersion: "sources.knative.dev/v1alpha1",
    kind: "IntegrationSource",
    plural: "integrationsources",
    namespaced: true,
    statusSubresource: true,
  },
];
const CONTROLLER_NS = "eventail-system";
const INGRESS = `http://eventail-ingress.${CONTROLLER_NS}.svc.cluster.local`;

let api: KubeApiStandIn;
let sink: RecordingSink;
const controllers: RunningController[] = [];

afterEach(async () => {
  for (const controller of controllers.splice(0)) await controller.close();
  await sink?.close();
  await api?.close();
});

async function setup(options: { historyLimit?: number } = {}) {
  api = await new KubeApiStandIn({ kinds: KINDS, bookmarkMs: 100, ...options }).start();
  sink = await startSink();
}

async function controller(
  identity: string,
  serveKnativeKinds = false,
  namespaces?: string[],
  apiUrl = api.url,
  leaseDurationSeconds = 1,
): Promise<RunningController> {
  const running = await startController({
    serveKnativeKinds,
    ...(namespaces ? { namespaces } : {}),
    kubeConfig: loadKubeConfig({ [APISERVER_URL_ANNOTATION]: apiUrl }),
    controllerNamespace: CONTROLLER_NS,
    identity,
    leaseDurationSeconds,
    renewMs: 150,
    statusIntervalMs: 200,
    logger: process.env["EVENTAIL_TEST_LOGS"] ? createLogger() : silentLogger(),
    runtime: {
      port: 0,
      drainMs: 200,
      stateDir: mkdtempSync(path.join(tmpdir(), "eventail-controller-")),
    },
  });
  controllers.push(running);
  return running;
}

const broker = (name: string, brokerClass = "Eventail"): KubeObject => ({
  apiVersion: EVENTING,
  kind: "Broker",
  metadata: {
    name,
    namespace: "default",
    annotations: { "eventing.knative.dev/broker.class": brokerClass },
  },
  spec: {},
});

const trigger = (name: string, brokerName: string, uri: string, type?: string): KubeObject => ({
  apiVersion: EVENTING,
  kind: "Trigger",
  metadata: { name, namespace: "default" },
  spec: {
    broker: brokerName,
    ...(type ? { filter: { attributes: { type } } } : {}),
    subscriber: { uri },
  },
});

type Status = {
  observedGeneration?: number;
  conditions?: Array<{ type: string; status: string }>;
  address?: { url?: string };
  subscriberUri?: string;
};
const statusOf = (kind: string, name: string) =>
  (api.get(EVENTING, kind, "default", name)?.["status"] ?? {}) as Status;
const ready = (status: Status) =>
  status.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** Renewals every 2 s, a leader steps down 4 s after one it could not make. */
const SLOW_LEASE_SECONDS = 6;

const pingSource = (name: string): KubeObject => ({
  apiVersion: "sources.knative.dev/v1",
  kind: "PingSource",
  metadata: { name, namespace: "default" },
  spec: { schedule: "* * * * *", sink: { uri: `${sink.url}/ping` } },
});

/** An IntegrationSource timer firing every second to the sink's /tick, over HTTP. */
const timerSource = (name: string): KubeObject => ({
  apiVersion: "sources.knative.dev/v1alpha1",
  kind: "IntegrationSource",
  metadata: { name, namespace: "default" },
  spec: { timer: { period: 1000 }, sink: { uri: `${sink.url}/tick` } },
});

/** Delivery attempts a replica made for `source` (its /metrics, e.g. `pingsource/tick`). */
async function attempts(base: string, source: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith(`eventail_delivery_attempts_total{namespace="default",trigger="${source}",`)
    ) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}

/** The Deployed condition a replica's own API computes for a resource. */
async function deployed(base: string, path: string) {
  const view = (await (await fetch(`${base}/api/v1/resources/${path}`)).json()) as {
    status?: { conditions?: Array<{ type: string; status: string; reason?: string }> };
  };
  return view.status?.conditions?.find((c) => c.type === "Deployed");
}

async function send(base: string, brokerName: string, id: string, type = "com.example.test") {
  const response = await fetch(`${base}/default/${brokerName}`, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": type,
      "content-type": "application/json",
    },
    body: JSON.stringify({ id }),
  });
  return response.status;
}

describe("eventail controller against the API stand-in", () => {
  it("serves an Eventail Broker and its Trigger, writes their status, delivers events", async () => {
    await setup();
    const running = await controller("a");
    api.create(broker("b1"));
    api.create(trigger("t1", "b1", sink.url));
    await eventually(() => running.isLeader, 10_000, "leadership");
    await eventually(() => ready(statusOf("Trigger", "t1")), 10_000, "trigger status");

    const brokerStatus = statusOf("Broker", "b1");
    expect(brokerStatus.observedGeneration).toBe(1);
    expect(brokerStatus.address?.url).toBe(`${INGRESS}/default/b1`);
    expect(statusOf("Trigger", "t1").subscriberUri).toBe(sink.url);

    expect(await send(running.runtime.url, "b1", "e-1")).toBe(202);
    await eventually(
      () => sink.requests.some((r) => r.event?.attributes.id === "e-1"),
      10_000,
      "delivery",
    );

    // A spec change bumps generation; status follows with observedGeneration 2.
    api.update(EVENTING, "Trigger", "default", "t1", (t) => ({
      ...t,
      spec: { ...(t["spec"] as object), filter: { attributes: { type: "com.example.only" } } },
    }));
    await eventually(
      () => statusOf("Trigger", "t1").observedGeneration === 2,
      10_000,
      "observedGeneration 2",
    );

    // The leader created the signing-key Secret in its namespace, and the runtime reads it.
    expect(api.get("v1", "Secret", CONTROLLER_NS, "eventail-signing-key")).toBeDefined();
    await eventually(
      () =>
        running.runtime.store.get("Secret", CONTROLLER_NS, "eventail-signing-key") !== undefined,
      10_000,
      "signing key in the store",
    );
  });

  it("with --namespace, still reads knative-eventing's config-features, and signs only with its own namespace's key", async () => {
    await setup();
    api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "config-features", namespace: "knative-eventing" },
      data: { "authentication-oidc": "enabled" },
    });
    // A tenant's Secret of the signing key's name, in a namespace the controller watches.
    const tenantPem = generateSigningKeyPem();
    api.create({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "eventail-signing-key", namespace: "default" },
      stringData: { "tenant.pem": tenantPem },
      data: { "tenant.pem": Buffer.from(tenantPem).toString("base64") },
    });
    api.create(broker("b1"));
    const running = await controller("a", false, ["default"]);
    await eventually(() => running.isLeader, 10_000, "leadership");
    await eventually(
      () => running.runtime.store.get("Broker", "default", "b1") !== undefined,
      10_000,
      "the broker",
    );
    // Authentication is on: a request without a token is refused.
    await eventually(
      async () => (await send(running.runtime.url, "b1", "no-token")) === 401,
      10_000,
      "401 without a token",
    );
    const published = (await (
      await fetch(`${running.runtime.url}/.well-known/jwks.json`)
    ).json()) as { keys: Array<{ kid: string }> };
    expect(published.keys.length).toBeGreaterThan(0);
    const tenantKid = loadSigningKey("tenant.pem", tenantPem).kid;
    expect(published.keys.map((key) => key.kid)).not.toContain(tenantKid);
  });

  it("leaves Brokers of other classes and their Triggers alone", async () => {
    await setup();
    const running = await controller("a");
    api.create(broker("mine"));
    api.create(broker("theirs", "MTChannelBasedBroker"));
    api.create(trigger("t-theirs", "theirs", sink.url));
    await eventually(() => ready(statusOf("Broker", "mine")), 10_000, "own broker status");
    await running.sync();
    expect(running.runtime.store.get("Broker", "default", "theirs")).toBeUndefined();
    expect(running.runtime.store.get("Trigger", "default", "t-theirs")).toBeUndefined();
    expect(api.get(EVENTING, "Broker", "default", "theirs")?.["status"]).toBeUndefined();
    expect(api.get(EVENTING, "Trigger", "default", "t-theirs")?.["status"]).toBeUndefined();
    expect(api.writes.some((w) => w.path.includes("theirs"))).toBe(false);
    expect(await send(running.runtime.url, "theirs", "x")).toBe(404);
  });

  it("resumes after a dropped watch connection and relists after 410 Gone", async () => {
    await setup({ historyLimit: 5 });
    const running = await controller("a");
    api.create(broker("b1"));
    await eventually(() => ready(statusOf("Broker", "b1")), 10_000, "broker status");

    api.dropWatches();
    api.create(trigger("after-drop", "b1", sink.url));
    await eventually(
      () => running.runtime.store.get("Trigger", "default", "after-drop") !== undefined,
      10_000,
      "trigger created after the drop",
    );

    const triggerLists = () =>
      api.requests.filter(
        (r) => r.path === `/apis/${EVENTING}/triggers` && r.query["watch"] === undefined,
      ).length;
    const listsBefore = triggerLists();
    api.expire();
    api.create(trigger("after-expiry", "b1", sink.url));
    await eventually(
      () => running.runtime.store.get("Trigger", "default", "after-expiry") !== undefined,
      10_000,
      "trigger created after compaction",
    );
    expect(triggerLists()).toBeGreaterThan(listsBefore);
    await eventually(() => ready(statusOf("Trigger", "after-expiry")), 10_000, "its status");
  });

  it("retries a status write that gets 409 Conflict", async () => {
    await setup();
    const running = await controller("a");
    await eventually(() => running.isLeader, 10_000, "leadership");
    api.conflictNextStatusWrites(2);
    api.create(broker("b1"));
    await eventually(() => ready(statusOf("Broker", "b1")), 10_000, "broker status");
    const writes = api.writes.filter((w) => w.path.endsWith("/brokers/b1/status"));
    expect(writes.map((w) => w.status).slice(0, 3)).toEqual([409, 409, 200]);
  });

  it("hands leadership over when the leader stops renewing", async () => {
    await setup();
    const first = await controller("first");
    await eventually(() => first.isLeader, 10_000, "first leads");
    const second = await controller("second");
    api.create(broker("b1"));
    await eventually(() => ready(statusOf("Broker", "b1")), 10_000, "status by the first");
    await second.synced();
    expect(second.isLeader).toBe(false);
    // Both replicas serve the data plane and read the one signing key; only the leader writes.
    expect(second.runtime.store.get("Broker", "default", "b1")).toBeDefined();
    await eventually(
      () => second.runtime.store.get("Secret", CONTROLLER_NS, "eventail-signing-key") !== undefined,
      10_000,
      "the signing key on the second replica",
    );

    await first.close({ releaseLease: false });
    controllers.splice(controllers.indexOf(first), 1);
    await eventually(() => second.isLeader, 30_000, "second takes over");
    const lease = api.get("coordination.k8s.io/v1", "Lease", CONTROLLER_NS, "eventail-controller");
    expect((lease?.["spec"] as { holderIdentity?: string } | undefined)?.holderIdentity).toBe(
      "second",
    );

    api.create(broker("b2"));
    await eventually(() => ready(statusOf("Broker", "b2")), 10_000, "status by the second");
  });

  it("runs self-emitting sources on the leader only; a follower serves ingress; the next leader fires", async () => {
    await setup();
    // A lease long enough that a busy machine's stalls cannot move the leadership mid-test (a
    // leader steps down two thirds of a lease after a renewal it could not make).
    const first = await controller("first", true, undefined, api.url, SLOW_LEASE_SECONDS);
    await eventually(() => first.isLeader, 10_000, "first leads");
    const second = await controller("second", true, undefined, api.url, SLOW_LEASE_SECONDS);
    api.create(broker("b1"));
    api.create(trigger("t1", "b1", `${sink.url}/trigger`));
    // PingSource takes Knative's 5-field cron (a tick a minute): its state is checked; the timer
    // IntegrationSource, self-emitting alike, ticks every second for the events themselves.
    api.create(pingSource("ping"));
    api.create(timerSource("tick"));
    await eventually(
      () => second.runtime.store.get("IntegrationSource", "default", "tick") !== undefined,
      10_000,
      "the sources on the follower",
    );
    const ticks = () => sink.requests.filter((r) => r.path === "/tick");
    await eventually(() => ticks().length >= 4, 20_000, "four ticks");
    expect(second.isLeader).toBe(false);
    // Each tick reaches the sink once: the follower sent none, the leader every one received.
    expect(await attempts(second.runtime.url, "integrationsource/tick")).toBe(0);
    await eventually(
      async () => (await attempts(first.runtime.url, "integrationsource/tick")) === ticks().length,
      10_000,
      "the leader's attempts equal the ticks received",
    );
    expect(await attempts(second.runtime.url, "integrationsource/tick")).toBe(0);
    // The follower knows both sources and says why it does not run them; the leader runs them.
    for (const path of ["pingsources/default/ping", "integrationsources/default/tick"]) {
      expect(await deployed(second.runtime.url, path)).toMatchObject({
        status: "Unknown",
        reason: "NotLeader",
      });
      await eventually(
        async () => (await deployed(first.runtime.url, path))?.status === "True",
        10_000,
        `the leader runs ${path}`,
      );
    }
    // The leader wrote the PingSource's status.
    await eventually(
      () =>
        ready(
          (api.get("sources.knative.dev/v1", "PingSource", "default", "ping")?.["status"] ??
            {}) as Status,
        ),
      10_000,
      "PingSource status",
    );

    // The follower still serves its broker's ingress.
    expect(await send(second.runtime.url, "b1", "via-follower")).toBe(202);
    await eventually(
      () =>
        sink.requests.some(
          (r) => r.path === "/trigger" && r.event?.attributes.id === "via-follower",
        ),
      10_000,
      "delivery through the follower",
    );

    // The leader stops: the follower takes over and fires.
    await first.close({ releaseLease: false });
    controllers.splice(controllers.indexOf(first), 1);
    await eventually(() => second.isLeader, 10_000, "second takes over");
    await eventually(
      async () => (await attempts(second.runtime.url, "integrationsource/tick")) >= 2,
      20_000,
      "ticks from the new leader",
    );
    expect((await deployed(second.runtime.url, "pingsources/default/ping"))?.status).toBe("True");
  }, 90_000);

  it("stops a leader's self-emitting sources as soon as it loses the Lease", async () => {
    await setup();
    const running = await controller("a", true);
    await eventually(() => running.isLeader, 10_000, "leadership");
    api.create(timerSource("tick"));
    await eventually(
      async () => (await attempts(running.runtime.url, "integrationsource/tick")) >= 1,
      20_000,
      "a tick",
    );
    const path = "integrationsources/default/tick";
    expect((await deployed(running.runtime.url, path))?.status).toBe("True");
    // Another replica (not run here) takes the Lease: this one must stop its sources, alive.
    api.update("coordination.k8s.io/v1", "Lease", CONTROLLER_NS, "eventail-controller", (l) => ({
      ...l,
      spec: {
        ...(l["spec"] as object),
        holderIdentity: "intruder",
        leaseDurationSeconds: 3600,
        renewTime: new Date().toISOString(),
      },
    }));
    await eventually(() => !running.isLeader, 10_000, "stepping down");
    // Held back means stopped: the source set keeps no running timer any more.
    await eventually(
      async () => (await deployed(running.runtime.url, path))?.reason === "NotLeader",
      10_000,
      "the timer held back",
    );
  });

  it("steps a leader whose renewals hang down before another replica may take over", async () => {
    await setup();
    const proxy = await startTcpProxy(api.url);
    try {
      const first = await controller("first", true, undefined, proxy.url, SLOW_LEASE_SECONDS);
      await eventually(() => first.isLeader, 10_000, "first leads");
      const second = await controller("second", true, undefined, api.url, SLOW_LEASE_SECONDS);
      api.create(timerSource("tick"));
      const path = "integrationsources/default/tick";
      await eventually(
        async () => (await deployed(first.runtime.url, path))?.status === "True",
        10_000,
        "the timer on the first",
      );
      // Its API calls now take longer than the renew deadline (the request timeout is 10 s).
      proxy.setDelay(8_000);
      await eventually(() => second.isLeader, 40_000, "second takes over");
      // The first stepped down, and held its timer back, before the second could lead.
      expect(first.isLeader).toBe(false);
      expect(await deployed(first.runtime.url, path)).toMatchObject({ reason: "NotLeader" });
    } finally {
      await proxy.cut();
    }
  }, 90_000);

  it("resolves refs in cluster: v1 Service, Knative Service URL, Eventail's own kinds", async () => {
    await setup();
    const running = await controller("a");
    const ksvc = (url: string): KubeObject => ({
      apiVersion: "serving.knative.dev/v1",
      kind: "Service",
      metadata: { name: "ksvc", namespace: "default" },
      spec: {},
      status: { address: { url } },
    });
    api.create(ksvc(`${sink.url}/k1`));
    api.create(broker("b1"));
    api.create(broker("b2"));
    const withRef = (name: string, ref: Record<string, string>): KubeObject => ({
      ...trigger(name, "b1", ""),
      spec: { broker: "b1", subscriber: { ref } },
    });
    api.create(
      withRef("to-ksvc", { apiVersion: "serving.knative.dev/v1", kind: "Service", name: "ksvc" }),
    );
    api.create({
      ...withRef("to-svc", { apiVersion: "v1", kind: "Service", name: "display" }),
      spec: {
        broker: "b1",
        subscriber: { ref: { apiVersion: "v1", kind: "Service", name: "display" } },
        delivery: { deadLetterSink: { ref: { apiVersion: EVENTING, kind: "Broker", name: "b2" } } },
      },
    });
    api.create(withRef("to-broker", { apiVersion: EVENTING, kind: "Broker", name: "b2" }));
    await eventually(() => ready(statusOf("Trigger", "to-broker")), 10_000, "statuses");
    await eventually(
      () => statusOf("Trigger", "to-ksvc").subscriberUri !== undefined,
      10_000,
      "ksvc",
    );
    expect(statusOf("Trigger", "to-ksvc").subscriberUri).toBe(`${sink.url}/k1`);
    expect(statusOf("Trigger", "to-svc").subscriberUri).toBe(
      "http://display.default.svc.cluster.local/",
    );
    expect(statusOf("Trigger", "to-broker").subscriberUri).toBe(`${INGRESS}/default/b2`);
    expect(
      (statusOf("Trigger", "to-svc") as { deadLetterSinkUri?: string }).deadLetterSinkUri,
    ).toBe(`${INGRESS}/default/b2`);

    expect(await send(running.runtime.url, "b1", "k-1")).toBe(202);
    await eventually(
      () => sink.requests.some((r) => r.event?.attributes.id === "k-1" && r.path === "/k1"),
      10_000,
      "delivery to the Knative Service's URL",
    );
    // The Knative Service moves: refs to it follow without any Trigger changing.
    api.update("serving.knative.dev/v1", "Service", "default", "ksvc", (s) => ({
      ...s,
      status: { address: { url: `${sink.url}/k2` } },
    }));
    await eventually(
      () => statusOf("Trigger", "to-ksvc").subscriberUri === `${sink.url}/k2`,
      10_000,
      "new ksvc URL in status",
    );
    expect(await send(running.runtime.url, "b1", "k-2")).toBe(202);
    await eventually(
      () => sink.requests.some((r) => r.event?.attributes.id === "k-2" && r.path === "/k2"),
      10_000,
      "delivery to the new URL",
    );
  });

  it("marks an invalid resource not ready and serves the rest", async () => {
    await setup();
    const running = await controller("a");
    api.create(broker("b1"));
    api.create(trigger("good", "b1", sink.url));
    api.create({ ...trigger("bad", "b1", sink.url), spec: { broker: "b1" } });
    await eventually(() => ready(statusOf("Trigger", "good")), 10_000, "good trigger status");
    await eventually(
      () => statusOf("Trigger", "bad").conditions !== undefined,
      10_000,
      "bad trigger status",
    );
    const bad = statusOf("Trigger", "bad") as Status & {
      conditions: Array<{ type: string; status: string; reason?: string; message?: string }>;
    };
    expect(bad.observedGeneration).toBe(1);
    expect(bad.conditions[0]).toMatchObject({
      type: "Ready",
      status: "False",
      reason: "InvalidSpec",
    });
    expect(bad.conditions[0]?.message).toMatch(/subscriber/);
    expect(running.runtime.store.get("Trigger", "default", "bad")).toBeUndefined();
    expect(await send(running.runtime.url, "b1", "v-1")).toBe(202);
    await eventually(
      () => sink.requests.some((r) => r.event?.attributes.id === "v-1"),
      10_000,
      "delivery",
    );
  });

  it("serves the other Knative kinds only with --serve-knative-kinds", async () => {
    await setup();
    const channel: KubeObject = {
      apiVersion: "messaging.knative.dev/v1",
      kind: "InMemoryChannel",
      metadata: { name: "ch", namespace: "default" },
      spec: {},
    };
    api.create(channel);
    api.create(broker("b1"));
    const without = await controller("a");
    await eventually(() => ready(statusOf("Broker", "b1")), 10_000, "broker status");
    await without.sync();
    expect(without.runtime.store.get("InMemoryChannel", "default", "ch")).toBeUndefined();
    expect(
      api.get("messaging.knative.dev/v1", "InMemoryChannel", "default", "ch")?.["status"],
    ).toBeUndefined();
    await without.close();
    controllers.splice(controllers.indexOf(without), 1);

    const served = await controller("b", true);
    await eventually(
      () =>
        ready(
          (api.get("messaging.knative.dev/v1", "InMemoryChannel", "default", "ch")?.["status"] ??
            {}) as Status,
        ),
      10_000,
      "channel status",
    );
    expect(served.runtime.store.get("InMemoryChannel", "default", "ch")).toBeDefined();
  });

  it("serves what the caches hold from its first answer on, invalid objects left out", async () => {
    await setup();
    api.create(broker("early"));
    api.create({ ...trigger("early-bad", "early", sink.url), spec: { broker: "early" } });
    const running = await controller("a");
    // Listening means listed: the store already holds the Broker, /readyz can say ready.
    expect(running.runtime.store.get("Broker", "default", "early")).toBeDefined();
    expect(running.runtime.store.get("Trigger", "default", "early-bad")).toBeUndefined();
    expect(await send(running.runtime.url, "early", "first")).toBe(202);
    await eventually(
      () => statusOf("Trigger", "early-bad").conditions?.[0]?.status === "False",
      10_000,
      "the invalid Trigger's status",
    );
  });

  it("creates the EventTypes the runtime auto-created, as leader", async () => {
    await setup();
    api.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "config-features", namespace: "knative-eventing" },
      data: { "eventtype-auto-create": "enabled" },
    });
    api.create(broker("b1"));
    const running = await controller("a");
    await eventually(() => running.isLeader, 10_000, "leadership");
    expect(await send(running.runtime.url, "b1", "t-1", "com.example.ordered")).toBe(202);
    const created = () =>
      api.writes.filter((w) => w.method === "POST" && w.path.endsWith("/eventtypes"));
    await eventually(() => created().some((w) => w.status === 201), 10_000, "EventType created");
    const listed = (await (
      await fetch(`${api.url}/apis/eventing.knative.dev/v1beta2/namespaces/default/eventtypes`)
    ).json()) as { items: Array<{ spec: { type: string; reference: { name: string } } }> };
    expect(listed.items.map((i) => [i.spec.type, i.spec.reference.name])).toEqual([
      ["com.example.ordered", "b1"],
    ]);
    // Created once, not on every pass.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(created().length).toBe(1);
  });
});
