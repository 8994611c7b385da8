/**
 * `eventail controller` (CONTRACT §13): the runtime of `eventail run`, fed from the API server
 * instead of files. Informers keep each watched kind in a cache; after any change the served
 * objects are read like manifests and handed to the runtime whole (`apply`), so the store and the
 * reconciler work exactly as in file mode. The leader (a Lease) writes each served resource's
 * status through the status subresource, creates the signing-key Secret when it is missing and
 * alone runs the sources that emit by themselves (as Knative's mt-ping and ApiServerSource
 * adapters are leader-elected: on every replica a PingSource would fire once per replica);
 * every replica serves the data plane and the sources fed from outside.
 */

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig, KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "../observability/logger.js";
import { createLogger } from "../observability/logger.js";
import { BROKER_CLASS_ANNOTATION, triggerBroker } from "../resources/broker-config.js";
import { FEATURES_NAMESPACE } from "../resources/features.js";
import type { ValidationIssue } from "../resources/issue.js";
import { resourceFromObject } from "../resources/loader.js";
import type { Resource } from "../resources/types.js";
import { readConfiguration } from "../runtime/configuration-reader.js";
import { type EventailOptions, type RunningEventail, startEventail } from "../runtime/eventail.js";
import { SIGNING_SECRET_NAME } from "../security/key-store.js";
import { generateSigningKeyPem } from "../security/signing-keys.js";
import { EventTypeWriter } from "./event-type-writer.js";
import { Informer } from "./informer.js";
import { KNATIVE_SERVICE, type WatchedKind, watchedKinds } from "./kinds.js";
import { collectionPath, isStatus, KubeRest } from "./kube-rest.js";
import { LeaderElection } from "./leader.js";
import { type Served, StatusWriter } from "./status-writer.js";

export const EVENTAIL_BROKER_CLASS = "Eventail";
export const INGRESS_SERVICE = "eventail-ingress";
export const LEASE_NAME = "eventail-controller";

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** Namespaces to watch; empty or undefined: all. */
  readonly namespaces?: readonly string[];
  /** Where the Lease and the signing-key Secret live (the controller's own namespace). */
  readonly controllerNamespace: string;
  readonly serveKnativeKinds?: boolean;
  /** This replica's name in the Lease (default: host name and a random suffix). */
  readonly identity?: string;
  readonly leaseDurationSeconds?: number;
  readonly renewMs?: number;
  /** How often the leader rechecks every status (readiness changes without a resource change). */
  readonly statusIntervalMs?: number;
  readonly logger?: Logger;
  /** Passed to the runtime: host, port, backing, state dir, drain time. */
  readonly runtime?: Omit<
    EventailOptions,
    "paths" | "resources" | "watch" | "services" | "logger" | "selfEmittingSources"
  >;
}

export interface RunningController {
  readonly runtime: RunningEventail;
  readonly identity: string;
  readonly isLeader: boolean;
  /** Resolves once every informer has listed and that state has been applied. */
  synced(): Promise<void>;
  /** Applies the caches now and, when leader, writes statuses (tests; the loop does it on change). */
  sync(): Promise<void>;
  /** `releaseLease: false` stops renewing without handing the Lease back (as a crash would). */
  close(options?: { releaseLease?: boolean }): Promise<void>;
}

const idOf = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const logger = options.logger ?? createLogger();
  const rest = new KubeRest(options.kubeConfig);
  const controllerNamespace = options.controllerNamespace;
  const identity = options.identity ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
  /** Knative Services' status.address.url by namespace/name: the runtime's Service lookup. */
  const knativeServices = new Map<string, string>();
  const namespaces: Array<string | undefined> = options.namespaces?.length
    ? [...options.namespaces]
    : [undefined];
  const informers: Array<{ kind: WatchedKind; informer: Informer }> = [];
  /** Changes before the runtime runs are read by the first sync after it starts. */
  let started = false;
  const onChange = () => {
    if (started) schedule();
  };
  const watch = (kind: WatchedKind, namespace: string | undefined, fieldSelector?: string) => {
    const informer = new Informer(
      options.kubeConfig,
      rest,
      {
        apiVersion: kind.apiVersion,
        kind: kind.kind,
        plural: kind.plural,
        ...(namespace !== undefined ? { namespace } : {}),
        ...(fieldSelector !== undefined ? { fieldSelector } : {}),
        optional: true,
        onChange,
      },
      logger,
    );
    informers.push({ kind, informer });
  };
  for (const namespace of namespaces) {
    for (const kind of watchedKinds(options.serveKnativeKinds === true)) watch(kind, namespace);
    watch(KNATIVE_SERVICE, namespace);
  }
  // The signing key lives in the controller's namespace, watched or not.
  if (namespaces[0] !== undefined && !namespaces.includes(controllerNamespace)) {
    watch(
      { apiVersion: "v1", kind: "Secret", plural: "secrets", role: "input" },
      controllerNamespace,
      `metadata.name=${SIGNING_SECRET_NAME}`,
    );
  }
  // Knative's own settings (config-features: authentication on; config-br-defaults: the
  // backing) live in knative-eventing, watched or not: without them a --namespace controller
  // would serve every address without authentication.
  if (namespaces[0] !== undefined && !namespaces.includes(FEATURES_NAMESPACE)) {
    watch(
      { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", role: "input" },
      FEATURES_NAMESPACE,
    );
  }

  // Nothing is served before every cache is filled: a replica that answered /readyz with an
  // empty store would get events for Brokers it does not know yet.
  let allListed: () => void = () => undefined;
  const listed = new Promise<void>((resolve) => {
    allListed = resolve;
  });
  const checkListed = () => {
    if (informers.every(({ informer }) => informer.listed)) allListed();
  };
  for (const { informer } of informers) informer.start();
  const listedCheck = setInterval(checkListed, 20);
  await listed;
  clearInterval(listedCheck);
  const first = readCaches(informers, knativeServices);
  const initial = await acceptValid(first.resources, logger, async (resources) => {
    const configuration = await readConfiguration([], resources, knativeServices);
    return configuration.issues;
  });
  const runtime = await startEventail({
    ...options.runtime,
    logger,
    resources: initial.accepted,
    watch: false,
    services: knativeServices,
    // Until this replica holds the Lease (election.onChange).
    selfEmittingSources: false,
    signingKeyNamespace: controllerNamespace,
    publicUrl:
      options.runtime?.publicUrl ??
      `http://${INGRESS_SERVICE}.${controllerNamespace}.svc.cluster.local`,
  });

  const statusWriter = new StatusWriter(rest, runtime, logger);
  const eventTypeWriter = new EventTypeWriter(rest, runtime, logger);
  const election = new LeaderElection({
    rest,
    namespace: controllerNamespace,
    name: LEASE_NAME,
    identity,
    leaseDurationSeconds: options.leaseDurationSeconds ?? 15,
    ...(options.renewMs !== undefined ? { renewMs: options.renewMs } : {}),
    logger,
    onChange: (leader) => {
      // Stopping happens at once (before the Lease could pass to another replica); starting
      // reconciles, and the status written after it says the sources run.
      const sources = runtime.reconciler
        .setSelfEmittingSources(leader)
        .catch((error: unknown) =>
          logger.error({ reason: (error as Error).message }, "switching sources failed"),
        );
      if (leader) {
        void ensureSigningKey(rest, controllerNamespace, logger);
        void sources.then(schedule);
      }
    },
  });

  let served: Served[] = first.served;
  let refused = initial.rejected;
  let rejected = new Map([...first.rejected, ...refused]);
  let applied: string | undefined = JSON.stringify(first.resources);
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let markSynced: () => void = () => undefined;
  const syncedOnce = new Promise<void>((resolve) => {
    markSynced = resolve;
  });

  const syncOnce = async () => {
    const urlsBefore = JSON.stringify([...knativeServices]);
    const read = readCaches(informers, knativeServices);
    // Most watch events are status writes (ours included): the resources read the same, and
    // validating and applying them again would only cost CPU.
    const fingerprint = JSON.stringify(read.resources);
    if (fingerprint !== applied) {
      const accepted = await acceptValid(read.resources, logger, (resources) =>
        runtime.apply(resources),
      );
      applied = fingerprint;
      refused = accepted.rejected;
    }
    // A Knative Service's new URL changes no resource: reconcile so refs to it resolve anew.
    if (JSON.stringify([...knativeServices]) !== urlsBefore) await runtime.reconciler.reconcile();
    served = read.served;
    rejected = new Map([...read.rejected, ...refused]);
    markSynced();
    if (election.isLeader) await statusWriter.write(served, rejected);
  };
  const sync = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await syncOnce();
        } catch (error) {
          logger.error({ reason: (error as Error).message }, "controller sync failed");
        }
      } while (again && !closed);
      running = undefined;
    })();
    return running;
  };
  function schedule(): void {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void sync();
    }, 20);
  }

  // Readiness and auto-created EventTypes change without any resource changing.
  const statusInterval = setInterval(() => {
    if (!election.isLeader || closed) return;
    void statusWriter.write(served, rejected).catch(() => undefined);
    void eventTypeWriter.write().catch(() => undefined);
  }, options.statusIntervalMs ?? 5000);
  statusInterval.unref();

  markSynced();
  started = true;
  election.start();
  schedule();
  logger.info(
    {
      identity,
      controllerNamespace,
      namespaces: options.namespaces ?? "all",
      kinds: informers.length,
    },
    "eventail controller started",
  );

  return {
    runtime,
    identity,
    get isLeader() {
      return election.isLeader;
    },
    synced: () => syncedOnce,
    sync,
    async close(closeOptions = {}) {
      closed = true;
      if (timer) clearTimeout(timer);
      clearInterval(statusInterval);
      for (const { informer } of informers) informer.stop();
      await election.stop(closeOptions.releaseLease !== false);
      await running;
      await runtime.close();
    },
  };
}

interface CacheRead {
  readonly resources: Resource[];
  readonly served: Served[];
  /** Objects that cannot be read as resources, by kind/namespace/name: why. */
  readonly rejected: Map<string, string>;
}

/**
 * What the caches hold that the runtime serves: Brokers of class Eventail and their Triggers,
 * the other served kinds, and the ConfigMaps and Secrets they read. Brokers of other classes and
 * their Triggers belong to Knative's controllers and are left out entirely.
 */
function readCaches(
  informers: ReadonlyArray<{ kind: WatchedKind; informer: Informer }>,
  knativeServices: Map<string, string>,
): CacheRead {
  const resources: Resource[] = [];
  const served: Served[] = [];
  const rejected = new Map<string, string>();
  const brokers = new Set(
    informers
      .filter((i) => i.kind.role === "class" && i.kind.kind === "Broker")
      .flatMap((i) => i.informer.list())
      .filter((o) => o.metadata?.annotations?.[BROKER_CLASS_ANNOTATION] === EVENTAIL_BROKER_CLASS)
      .map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`),
  );
  knativeServices.clear();
  const seen = new Set<string>();
  for (const { kind, informer } of informers) {
    for (const object of informer.list()) {
      const namespace = object.metadata?.namespace ?? "";
      const name = object.metadata?.name ?? "";
      const id = idOf(kind.kind, namespace, name);
      if (kind === KNATIVE_SERVICE) {
        const url = (object as { status?: { address?: { url?: string }; url?: string } }).status
          ?.address?.url;
        if (url) knativeServices.set(`${namespace}/${name}`, url);
        continue;
      }
      if (seen.has(id)) continue;
      seen.add(id);
      if (!isServed(kind, object, brokers)) continue;
      const issues: ValidationIssue[] = [];
      const resource = resourceFromObject(object, `kubernetes:${id}`, issues);
      if (kind.role !== "input") served.push({ kind, object });
      if (!resource || issues.length > 0) {
        rejected.set(id, issues.map((i) => `${i.path}: ${i.message}`).join("; ") || "unreadable");
        continue;
      }
      resources.push(resource);
    }
  }
  return { resources, served, rejected };
}

function isServed(
  kind: WatchedKind,
  object: KubernetesObject,
  brokers: ReadonlySet<string>,
): boolean {
  if (kind.kind === "Broker" && kind.role === "class") {
    return object.metadata?.annotations?.[BROKER_CLASS_ANNOTATION] === EVENTAIL_BROKER_CLASS;
  }
  if (kind.kind === "Trigger" && kind.role === "class") {
    const broker = triggerBroker({
      metadata: { namespace: object.metadata?.namespace ?? "default" },
      spec: (object as { spec?: { broker?: string } }).spec ?? {},
    });
    return brokers.has(`${broker.namespace}/${broker.name}`);
  }
  return true;
}

/**
 * The resources `check` accepts (`runtime.apply` applies them when it finds no issue). In a
 * cluster one bad object must not stop the others (as a bad file refuses a whole `eventail run`
 * reload): the objects validation names are left out and the rest checked again, a few rounds
 * at most.
 */
async function acceptValid(
  resources: Resource[],
  logger: Logger,
  check: (resources: Resource[]) => Promise<ValidationIssue[]>,
): Promise<{ accepted: Resource[]; rejected: Map<string, string> }> {
  const rejected = new Map<string, string>();
  let remaining = resources;
  for (let round = 0; round < 5; round++) {
    let issues: ValidationIssue[];
    try {
      issues = await check(remaining);
    } catch (error) {
      logger.error({ reason: (error as Error).message }, "configuration refused");
      return { accepted: [], rejected };
    }
    if (issues.length === 0) return { accepted: remaining, rejected };
    const named = new Set<string>();
    for (const issue of issues) {
      if (issue.name === "") continue;
      const id = idOf(issue.kind, issue.namespace, issue.name);
      named.add(id);
      const message = `${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
      rejected.set(id, rejected.has(id) ? `${rejected.get(id)}; ${message}` : message);
    }
    const next = remaining.filter(
      (r) => !named.has(idOf(r.kind, r.metadata.namespace, r.metadata.name)),
    );
    logger.warn({ refused: [...named] }, "invalid resources left out");
    if (next.length === remaining.length) return { accepted: [], rejected };
    remaining = next;
  }
  return { accepted: [], rejected };
}

/** The leader creates the signing-key Secret when it is missing; every replica reads it. */
async function ensureSigningKey(rest: KubeRest, namespace: string, logger: Logger): Promise<void> {
  const path = collectionPath("v1", "secrets", namespace);
  try {
    await rest.get(`${path}/${SIGNING_SECRET_NAME}`);
    return;
  } catch (error) {
    if (!isStatus(error, 404)) {
      logger.warn({ reason: (error as Error).message }, "cannot read the signing-key Secret");
      return;
    }
  }
  try {
    await rest.create(path, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: {
        name: SIGNING_SECRET_NAME,
        namespace,
        labels: { "app.kubernetes.io/name": "eventail" },
      },
      type: "Opaque",
      data: { "key-1.pem": Buffer.from(generateSigningKeyPem()).toString("base64") },
    });
    logger.info({ namespace, name: SIGNING_SECRET_NAME }, "signing key created");
  } catch (error) {
    if (!isStatus(error, 409)) {
      logger.warn({ reason: (error as Error).message }, "cannot create the signing-key Secret");
    }
  }
}
