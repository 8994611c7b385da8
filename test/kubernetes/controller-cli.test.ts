import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EVENTAIL_CLI, eventailBuilt } from "../support/eventail-process.js";
import { type KindInfo, KubeApiStandIn } from "../support/kube-api-stand-in.js";
import { eventually } from "../support/sink.js";

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
  { apiVersion: "v1", kind: "Secret", plural: "secrets", namespaced: true },
  { apiVersion: "coordination.k8s.io/v1", kind: "Lease", plural: "leases", namespaced: true },
];

let api: KubeApiStandIn | undefined;
afterEach(async () => {
  await api?.close();
});

describe.skipIf(!eventailBuilt())("eventail controller (the built command line)", () => {
  it("serves from --kubeconfig, writes status as leader, hands the Lease back on SIGTERM", async () => {
    api = await new KubeApiStandIn({ kinds: KINDS }).start();
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-controller-cli-"));
    const kubeconfig = path.join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: stand-in, cluster: {server: '" +
          api.url +
          "', insecure-skip-tls-verify: true}}]",
        "users: [{name: stand-in, user: {token: unused}}]",
        "contexts: [{name: stand-in, context: {cluster: stand-in, user: stand-in}}]",
        "current-context: stand-in",
        "",
      ].join("\n"),
    );
    api.create({
      apiVersion: EVENTING,
      kind: "Broker",
      metadata: {
        name: "b1",
        namespace: "team-a",
        annotations: { "eventing.knative.dev/broker.class": "Eventail" },
      },
      spec: {},
    });
    const child = spawn(
      process.execPath,
      [
        EVENTAIL_CLI,
        "controller",
        "--kubeconfig",
        kubeconfig,
        "--namespace",
        "team-a",
        "--controller-namespace",
        "eventail-system",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ],
      { env: { ...process.env, EVENTAIL_STATE_DIR: dir, POD_NAME: "pod-1" }, stdio: "pipe" },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await eventually(
        () => {
          const status = api?.get(EVENTING, "Broker", "team-a", "b1")?.["status"] as
            | { address?: { url?: string } }
            | undefined;
          return status?.address?.url !== undefined;
        },
        20_000,
        "Broker status",
      );
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`${(error as Error).message}\n${output.slice(-4000)}`);
    }
    const status = api.get(EVENTING, "Broker", "team-a", "b1")?.["status"] as {
      address: { url: string };
    };
    expect(status.address.url).toBe(
      "http://eventail-ingress.eventail-system.svc.cluster.local/team-a/b1",
    );
    const lease = () =>
      api?.get("coordination.k8s.io/v1", "Lease", "eventail-system", "eventail-controller")?.[
        "spec"
      ] as { holderIdentity?: string } | undefined;
    expect(lease()?.holderIdentity).toBe("pod-1");
    expect(api.get("v1", "Secret", "eventail-system", "eventail-signing-key")).toBeDefined();

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lease()?.holderIdentity).toBe("");
  });
});
