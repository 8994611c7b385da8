import { afterEach, describe, expect, it } from "vitest";
import type { WatchedKind } from "../../src/kubernetes/kinds.js";
import { KubeRest } from "../../src/kubernetes/kube-rest.js";
import { type Served, StatusWriter } from "../../src/kubernetes/status-writer.js";
import { silentLogger } from "../../src/observability/logger.js";
import type { RunningEventail } from "../../src/runtime/eventail.js";
import {
  APISERVER_URL_ANNOTATION,
  loadKubeConfig,
} from "../../src/sources/apiserver/kube-client.js";
import { KubeApiStandIn, type KubeObject } from "../support/kube-api-stand-in.js";
import { eventually } from "../support/sink.js";

const EVENTING = "eventing.knative.dev/v1";
const TRIGGER: WatchedKind = {
  apiVersion: EVENTING,
  kind: "Trigger",
  plural: "triggers",
  role: "class",
};

// Only rejected objects are written here: the runtime is never asked about them.
const runtime = {
  statuses: { get: () => undefined },
  url: "http://127.0.0.1:1",
  security: { baseUrl: "http://127.0.0.1:1" },
} as unknown as RunningEventail;

let api: KubeApiStandIn | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("StatusWriter against the API stand-in", () => {
  it("forgets objects no longer served; a namesake created after a deletion gets its own lastTransitionTime", async () => {
    const stand = await new KubeApiStandIn({
      kinds: [{ ...TRIGGER, namespaced: true, statusSubresource: true }],
    }).start();
    api = stand;
    const writer = new StatusWriter(
      new KubeRest(loadKubeConfig({ [APISERVER_URL_ANNOTATION]: stand.url })),
      runtime,
      silentLogger(),
    );
    const create = (name: string) =>
      stand.create({
        apiVersion: EVENTING,
        kind: "Trigger",
        metadata: { name, namespace: "default" },
        spec: {},
      });
    const served = (...names: string[]): Served[] =>
      names.map((name) => ({
        kind: TRIGGER,
        object: stand.get(EVENTING, "Trigger", "default", name) as KubeObject,
      }));
    const transitionOf = (name: string) => {
      const status = stand.get(EVENTING, "Trigger", "default", name)?.["status"] as
        | { conditions?: Array<{ lastTransitionTime?: string }> }
        | undefined;
      return status?.conditions?.[0]?.lastTransitionTime;
    };
    const rejected = new Map([
      ["Trigger/default/a", "spec.subscriber: required"],
      ["Trigger/default/b", "spec.subscriber: required"],
    ]);

    create("a");
    create("b");
    await writer.write(served("a", "b"), rejected);
    expect(writer.writes).toBe(2);
    const first = transitionOf("a")!;
    expect(first).toBeDefined();

    // Deleted and created again between two passes: another object (another uid).
    stand.remove(EVENTING, "Trigger", "default", "a");
    await eventually(() => Date.now() > Date.parse(first), 5_000, "the clock to move on");
    create("a");
    await writer.write(served("a", "b"), rejected);
    expect(writer.writes).toBe(3);
    expect(transitionOf("a")).not.toBe(first);
    expect(writer.tracked).toBe(2);

    stand.remove(EVENTING, "Trigger", "default", "a");
    await writer.write(served("b"), rejected);
    expect(writer.tracked).toBe(1);
    await writer.write([], rejected);
    expect(writer.tracked).toBe(0);
  });
});
