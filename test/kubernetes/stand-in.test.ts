import { afterEach, describe, expect, it } from "vitest";
import { KubeApiStandIn } from "../support/kube-api-stand-in.js";

// The stand-in's own contract, where the controller tests do not reach it (PATCH, generation).
const BROKERS = "/apis/eventing.knative.dev/v1/namespaces/default/brokers";
let api: KubeApiStandIn;
afterEach(async () => {
  await api.close();
});

type Body = Record<string, unknown> & {
  metadata: { generation?: number };
  status?: { observedGeneration?: number };
  reason?: string;
};

async function call(method: string, path: string, body?: unknown, type = "application/json") {
  const response = await fetch(api.url + path, {
    method,
    headers: { "content-type": type },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Body };
}

describe("the Kubernetes API stand-in", () => {
  it("keeps spec and status apart, bumps generation on spec changes only, refuses stale versions", async () => {
    api = await new KubeApiStandIn({
      kinds: [
        {
          apiVersion: "eventing.knative.dev/v1",
          kind: "Broker",
          plural: "brokers",
          namespaced: true,
          statusSubresource: true,
        },
      ],
    }).start();
    const created = await call("POST", BROKERS, {
      metadata: { name: "b" },
      spec: { config: { name: "x" } },
      status: { ignored: true },
    });
    expect(created.status).toBe(201);
    expect(created.body.status).toBeUndefined();
    expect(created.body.metadata.generation).toBe(1);

    const patched = await call(
      "PATCH",
      `${BROKERS}/b/status`,
      { status: { observedGeneration: 1, conditions: [{ type: "Ready", status: "True" }] } },
      "application/merge-patch+json",
    );
    expect(patched.status).toBe(200);
    expect(patched.body.metadata.generation).toBe(1);
    expect(patched.body.status?.observedGeneration).toBe(1);

    const stale = await call("PUT", `${BROKERS}/b/status`, {
      ...created.body,
      status: { observedGeneration: 9 },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.reason).toBe("Conflict");

    const respec = await call("PUT", `${BROKERS}/b`, {
      ...patched.body,
      spec: { config: { name: "y" } },
      status: { overwritten: true },
    });
    expect(respec.status).toBe(200);
    expect(respec.body.metadata.generation).toBe(2);
    expect(respec.body.status?.observedGeneration).toBe(1);
    expect((await call("POST", BROKERS, { metadata: { name: "b" }, spec: {} })).status).toBe(409);
  });
});
