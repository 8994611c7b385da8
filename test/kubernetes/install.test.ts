/**
 * The install (config/, crds/Kustomization) and the image (Dockerfile), checked without a
 * cluster or a Docker daemon: what `kubectl kustomize config/` renders must pass the Kubernetes
 * API's own schemas (kubernetes-models), grant what the controller uses and nothing wider, and
 * run it non-root on a read-only root filesystem.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  BROKER_KINDS,
  EVENTAIL_KINDS,
  INPUT_KINDS,
  KNATIVE_SERVICE,
} from "../../src/kubernetes/kinds.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const OLDEST_KUBECTL_MINOR = 24;

type Obj = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
};

const VALIDATORS: Record<string, (o: Obj) => { validate(): void }> = {
  "v1/Namespace": (o) => new Namespace(o as never),
  "v1/ServiceAccount": (o) => new ServiceAccount(o as never),
  "v1/Service": (o) => new Service(o as never),
  "apps/v1/Deployment": (o) => new Deployment(o as never),
  "rbac.authorization.k8s.io/v1/ClusterRole": (o) => new ClusterRole(o as never),
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": (o) => new ClusterRoleBinding(o as never),
  "rbac.authorization.k8s.io/v1/Role": (o) => new Role(o as never),
  "rbac.authorization.k8s.io/v1/RoleBinding": (o) => new RoleBinding(o as never),
  "apiextensions.k8s.io/v1/CustomResourceDefinition": (o) =>
    new CustomResourceDefinition(o as never),
};

/** Why `kubectl kustomize` cannot run here, or undefined when it can. */
function kubectlMissing(): string | undefined {
  const version = spawnSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8" });
  if (version.error || version.status !== 0) return "kubectl is not installed";
  const minor = Number.parseInt(
    (JSON.parse(version.stdout) as { clientVersion?: { minor?: string } }).clientVersion?.minor ??
      "0",
    10,
  );
  if (minor < OLDEST_KUBECTL_MINOR) {
    return `kubectl 1.${minor} is older than 1.${OLDEST_KUBECTL_MINOR} (its kustomize differs)`;
  }
  return undefined;
}

const missing = kubectlMissing();
if (missing) console.log(`skipping the config/ render test: ${missing}`);

function render(): Obj[] {
  const result = spawnSync("kubectl", ["kustomize", path.join(ROOT, "config")], {
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`kubectl kustomize config/ failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as Obj);
}

type Rule = {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
};
const rulesOf = (objects: Obj[], kind: string) =>
  objects.filter((o) => o.kind === kind).flatMap((o) => (o["rules"] ?? []) as Rule[]);
const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");
function allows(rules: Rule[], group: string, resource: string, verb: string): boolean {
  return rules.some(
    (r) =>
      r.apiGroups?.includes(group) &&
      r.resources?.includes(resource) &&
      r.verbs?.includes(verb) &&
      r.resourceNames === undefined,
  );
}

describe.skipIf(missing !== undefined)("config/ rendered by kubectl kustomize", () => {
  const objects = missing ? [] : render();

  it("passes the Kubernetes API schemas, object by object", () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const object of objects) {
      const validator = VALIDATORS[`${object.apiVersion}/${object.kind}`];
      expect(validator, `${object.apiVersion} ${object.kind} has a validator`).toBeDefined();
      expect(
        () => validator!(object).validate(),
        `${object.kind} ${object.metadata.name}`,
      ).not.toThrow();
    }
  });

  it("installs the CRDs of Eventail's own kinds, as in crds/", () => {
    const crds = objects.filter((o) => o.kind === "CustomResourceDefinition");
    const kinds = crds.map((c) => (c["spec"] as { names: { kind: string } }).names.kind).sort();
    expect(kinds).toEqual(EVENTAIL_KINDS.map((k) => k.kind).sort());
  });

  it("grants what the controller uses, with no wildcards", () => {
    for (const rule of [...rulesOf(objects, "ClusterRole"), ...rulesOf(objects, "Role")]) {
      for (const list of [rule.apiGroups, rule.resources, rule.verbs])
        expect(list).not.toContain("*");
    }
    const cluster = rulesOf(objects, "ClusterRole");
    for (const kind of [...BROKER_KINDS, ...EVENTAIL_KINDS, ...INPUT_KINDS, KNATIVE_SERVICE]) {
      for (const verb of ["get", "list", "watch"]) {
        expect(
          allows(cluster, groupOf(kind.apiVersion), kind.plural, verb),
          `${verb} ${kind.plural}`,
        ).toBe(true);
      }
    }
    for (const kind of [...BROKER_KINDS, ...EVENTAIL_KINDS]) {
      expect(allows(cluster, groupOf(kind.apiVersion), `${kind.plural}/status`, "update")).toBe(
        true,
      );
    }
    expect(allows(cluster, "eventing.knative.dev", "eventtypes", "create")).toBe(true);
    // Nothing beyond reading Secrets cluster-wide: writing one is for its own namespace only.
    expect(
      cluster.some(
        (r) =>
          r.resources?.includes("secrets") &&
          r.verbs?.some((v) => v !== "get" && v !== "list" && v !== "watch"),
      ),
    ).toBe(false);
    const own = objects.find((o) => o.kind === "Role")!;
    expect(own.metadata.namespace).toBe("eventail-system");
    const ownRules = rulesOf([own], "Role");
    expect(allows(ownRules, "coordination.k8s.io", "leases", "create")).toBe(true);
    expect(
      ownRules.find((r) => r.resources?.includes("leases") && r.verbs?.includes("update"))
        ?.resourceNames,
    ).toEqual(["eventail-controller"]);
    expect(
      ownRules.find((r) => r.resources?.includes("secrets") && r.verbs?.includes("get"))
        ?.resourceNames,
    ).toEqual(["eventail-signing-key"]);
  });

  it("runs the controller non-root, read-only, with probes and resources, behind eventail-ingress", () => {
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as Deployment;
    const pod = deployment.spec!.template.spec!;
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(pod.securityContext?.runAsUser).not.toBe(0);
    expect(pod.serviceAccountName).toBe("eventail-controller");
    const container = pod.containers[0]!;
    expect(container.args?.[0]).toBe("controller");
    expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container.readinessProbe?.httpGet?.path).toBe("/readyz");
    expect(container.livenessProbe?.httpGet?.path).toBe("/healthz");
    expect(container.resources?.requests?.["memory"]).toBeDefined();
    expect(container.resources?.limits?.["memory"]).toBeDefined();
    const service = objects.find((o) => o.kind === "Service") as unknown as Service;
    expect(service.metadata?.name).toBe("eventail-ingress");
    expect(service.metadata?.namespace).toBe("eventail-system");
    expect(service.spec?.selector).toEqual(deployment.spec!.template.metadata!.labels);
  });
});

describe("Dockerfile (checked statically: no Docker daemon here)", () => {
  const lines = readFileSync(path.join(ROOT, "Dockerfile"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));

  it("is multi-stage on node:20-slim", () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM node:20-slim(\s+AS\s+\w+)?$/i);
  });

  it("runs its final stage as a non-root user", () => {
    const finalStage = lines.slice(lines.lastIndexOf(froms.at(-1)!));
    const users = finalStage.filter((l) => /^USER\s/i.test(l));
    expect(users.length).toBeGreaterThan(0);
    const user = users.at(-1)!.split(/\s+/)[1]!.split(":")[0]!;
    expect(["root", "0"]).not.toContain(user);
    expect(finalStage.some((l) => /^ENTRYPOINT\s/i.test(l))).toBe(true);
  });

  it("adds nothing from remote URLs", () => {
    for (const line of lines.filter((l) => /^ADD\s/i.test(l))) {
      expect(line).not.toMatch(/https?:\/\//i);
    }
  });
});
