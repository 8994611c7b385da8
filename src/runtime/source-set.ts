import type { Dispatcher } from "../delivery/dispatcher.js";
import { NO_RESPONSE } from "../delivery/options.js";
import type { WebhookTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { NoticeOnce } from "../observability/notice-once.js";
import { resolveDestination, type TargetExists } from "../resources/addresses.js";
import { isMissingReference } from "../resources/missing-reference.js";
import { secretData } from "../resources/secrets.js";
import { SERVICES_CONFIG_MAP, type ServiceLookup } from "../resources/services.js";
import { bindingFor } from "../resources/sink-binding.js";
import type { ResourceStore } from "../resources/store.js";
import type { Destination, Resource } from "../resources/types.js";
import { SOURCE_KINDS } from "../sources/kinds.js";
import type { RunnableSource, SourceKind } from "../sources/registry.js";
import { dispatcherSink } from "../sources/source.js";
import { type DeliverySpec, resolveDelivery } from "./delivery-spec.js";

interface RunningSource {
  readonly kind: SourceKind;
  readonly source: RunnableSource;
  readonly fingerprint: string;
  readonly abort: AbortController;
  /** Only the leader may run it (SourceKind.selfEmitting). */
  readonly leaderOnly: boolean;
}

export interface SourceSetDeps {
  readonly store: ResourceStore;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where refs to Services go (reconciler.ts). */
  readonly services?: ServiceLookup;
  /** Whether a ref's target is among the resources: a source whose sink is not, waits. */
  readonly exists?: TargetExists;
  /**
   * Whether sources that emit by themselves (SourceKind.selfEmitting) may run here (default
   * true). A replica that does not hold the leadership keeps them held back.
   */
  readonly selfEmittingSources?: boolean;
}

function leaderOnly(kind: SourceKind, resource: Resource): boolean {
  const { selfEmitting } = kind;
  return typeof selfEmitting === "function" ? selfEmitting(resource) : selfEmitting === true;
}

/**
 * The running sources of every kind in SOURCE_KINDS. A source whose spec, annotations, the
 * Secrets it names, SinkBinding or Service mappings changed is restarted; sources never touch backings, only their sink.
 */
export class SourceSet {
  private readonly running = new Map<string, RunningSource>();
  /** Sources waiting for what they name, each logged once. */
  private readonly notices = new NoticeOnce();
  /** Why each source that could not start did not, by `KIND/NS/NAME`. */
  private readonly failures = new Map<string, string>();
  /** Self-emitting sources held back (`KIND/NS/NAME`) while they may not run here. */
  private readonly held = new Set<string>();
  private selfEmitting: boolean;

  constructor(private readonly deps: SourceSetDeps) {
    this.selfEmitting = deps.selfEmittingSources ?? true;
  }

  /**
   * Lets self-emitting sources run, or stops them at once rather than at the next reconcile
   * (which may be queued behind a slow one): another replica may be about to start them. The
   * caller reconciles afterwards to start them when allowed.
   */
  async allowSelfEmitting(allowed: boolean): Promise<void> {
    this.selfEmitting = allowed;
    if (allowed) return;
    const stopping: RunningSource[] = [];
    for (const [id, running] of this.running) {
      if (!running.leaderOnly) continue;
      this.running.delete(id);
      this.held.add(id);
      stopping.push(running);
    }
    await Promise.all(stopping.map(stop));
  }

  webhook(namespace: string, name: string): WebhookTarget | undefined {
    for (const running of this.running.values()) {
      const webhook = running.source.webhook;
      if (webhook && webhook.namespace === namespace && webhook.name === name) return webhook;
    }
    return undefined;
  }

  /** `source KIND/NS/NAME` for every running source that reports readiness (/readyz checks). */
  readiness(): Record<string, boolean> {
    const checks: Record<string, boolean> = {};
    for (const [id, running] of this.running) {
      if (running.source.ready !== undefined) checks[`source ${id}`] = running.source.ready();
    }
    return checks;
  }

  /** Returns false when a source could not start: retry later. */
  async reconcile(baseUrl: string): Promise<boolean> {
    const desired = new Map<string, { resource: Resource; kind: SourceKind }>();
    for (const kind of SOURCE_KINDS) {
      for (const resource of this.deps.store.list(kind.kind)) {
        const id = `${kind.kind}/${resource.metadata.namespace}/${resource.metadata.name}`;
        desired.set(id, { resource: this.bound(resource), kind });
      }
    }
    const stopping: RunningSource[] = [];
    for (const [id, running] of this.running) {
      const wanted = desired.get(id);
      if (
        !wanted ||
        !this.mayRun(running.kind, wanted.resource) ||
        this.fingerprint(wanted.resource, baseUrl) !== running.fingerprint
      ) {
        this.running.delete(id);
        stopping.push(running);
      }
    }
    // All at once: a source that drains (a delivery in flight, a process's grace period) must
    // not hold up the others' stops, nor every restart behind them.
    const stopped = await Promise.allSettled(stopping.map(stop));
    const failed = stopped.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
    let complete = true;
    this.notices.keepOnly(desired);
    this.failures.clear();
    this.held.clear();
    for (const [id, { resource, kind }] of desired) {
      if (this.running.has(id)) continue;
      if (!this.mayRun(kind, resource)) {
        this.held.add(id);
        continue;
      }
      try {
        const started = await this.start(resource, kind, baseUrl);
        // Held back while it started: it must not keep running past allowSelfEmitting(false).
        if (!this.mayRun(kind, resource)) {
          this.held.add(id);
          await stop(started);
          continue;
        }
        this.running.set(id, started);
        this.notices.forget(id);
      } catch (error) {
        this.failures.set(id, (error as Error).message);
        if (isMissingReference(error)) {
          // Knative leaves it not Ready; here it waits, and a reload that adds the target starts it.
          if (this.notices.first(id, error.message)) {
            this.deps.logger.warn(
              { source: id, missing: error.message },
              "source waits: something it names is not among the manifests",
            );
          }
          continue;
        }
        this.deps.logger.error({ err: error, source: id }, "source could not start");
        complete = false;
      }
    }
    return complete;
  }

  /** Running (and whether ready, for a source that says), held back, or why it could not start. */
  stateOf(
    kind: string,
    namespace: string,
    name: string,
  ):
    | { running: true; ready?: boolean }
    | { running: false; error: string }
    | { running: false; held: true }
    | undefined {
    const id = `${kind}/${namespace}/${name}`;
    if (this.held.has(id)) return { running: false, held: true };
    const running = this.running.get(id);
    if (running) {
      return running.source.ready
        ? { running: true, ready: running.source.ready() }
        : { running: true };
    }
    const error = this.failures.get(id);
    return error === undefined ? undefined : { running: false, error };
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map(stop));
  }

  private async start(
    resource: Resource,
    kind: SourceKind,
    baseUrl: string,
  ): Promise<RunningSource> {
    const { namespace, name } = resource.metadata;
    const spec = (resource.spec ?? {}) as { sink?: unknown; delivery?: unknown };
    const abort = new AbortController();
    const { services, exists } = this.deps;
    const resolveDest = (destination: unknown) =>
      resolveDestination(destination as Destination, namespace, baseUrl, services, exists);
    const resolveDeliverySpec = (delivery: unknown) =>
      resolveDelivery(delivery as DeliverySpec | undefined, namespace, baseUrl, services, exists);
    const sinkUrl = spec.sink ? resolveDest(spec.sink) : undefined;
    const delivery = resolveDeliverySpec(spec.delivery);
    const source = await kind.create(resource, {
      namespace,
      name,
      logger: this.deps.logger.child({ source: `${kind.kind}/${namespace}/${name}` }),
      metrics: this.deps.metrics,
      dispatcher: this.deps.dispatcher,
      ...(sinkUrl ? { sinkUrl } : {}),
      delivery,
      baseUrl,
      resolveDestination: resolveDest,
      resolveDelivery: resolveDeliverySpec,
      secretValue: (ns, secret, field) => this.secretValue(ns, secret, field),
      secret: (ns, secret) => {
        const found = this.deps.store.get("Secret", ns, secret);
        return found ? secretData(found) : undefined;
      },
      signal: abort.signal,
    });
    const sink = sinkUrl
      ? dispatcherSink(
          this.deps.dispatcher,
          sinkUrl,
          delivery,
          { namespace, name: `${kind.kind.toLowerCase()}/${name}` },
          abort.signal,
        )
      : async () => ({ kind: "dropped" as const, attempts: 0, reason: "no-sink", ...NO_RESPONSE });
    await source.start(sink);
    return {
      kind,
      source,
      fingerprint: this.fingerprint(resource, baseUrl),
      abort,
      leaderOnly: leaderOnly(kind, resource),
    };
  }

  /**
   * A SinkBinding whose subject is this source gives it the binding's sink and, when set, its
   * ceOverrides (K_SINK and K_CE_OVERRIDES of a ContainerSource's process). The bound copy is
   * what starts and what the fingerprint sees, so editing the binding restarts the source.
   */
  private bound(resource: Resource): Resource {
    const binding = bindingFor(this.deps.store.list("SinkBinding"), resource);
    if (!binding) return resource;
    const spec = (resource.spec ?? {}) as Record<string, unknown>;
    const { sink, ceOverrides } = binding.spec;
    return { ...resource, spec: { ...spec, sink, ...(ceOverrides ? { ceOverrides } : {}) } };
  }

  private mayRun(kind: SourceKind, resource: Resource): boolean {
    return this.selfEmitting || !leaderOnly(kind, resource);
  }

  /** Which of the spec's refs name a resource that is among the resources. */
  private targetsPresent(spec: unknown, namespace: string): boolean[] {
    const { exists } = this.deps;
    if (!exists) return [];
    return refsIn(spec).map((ref) => {
      const { kind, name } = ref;
      const ns =
        typeof ref["namespace"] === "string" && ref["namespace"] ? ref["namespace"] : namespace;
      return typeof kind !== "string" || typeof name !== "string" || exists(kind, ns, name);
    });
  }

  private secretValue(namespace: string, name: string, field: string): string | undefined {
    const secret = this.deps.store.get("Secret", namespace, name);
    return secret ? secretData(secret)[field] : undefined;
  }

  /**
   * Secrets can change what a source does (tokens), so the ones it names are part of its
   * fingerprint. Every kind reads only Secrets of its own namespace named in its spec
   * (secretKeyRef, connectionSecret): a Secret named nowhere in the spec cannot matter, and
   * editing it must not restart the source (a skipped tick, an aborted delivery, a 404 webhook).
   */
  private fingerprint(resource: Resource, baseUrl: string): string {
    const named = stringsIn(resource.spec);
    const secrets = this.deps.store
      .list("Secret")
      .filter(
        (s) => s.metadata.namespace === resource.metadata.namespace && named.has(s.metadata.name),
      )
      .map((s) => [s.metadata.name, s.data ?? {}, s.stringData ?? {}]);
    // A Service's mapping can move the sink without the source's own manifest changing.
    const services = this.deps.store
      .list("ConfigMap")
      .filter((c) => c.metadata.name === SERVICES_CONFIG_MAP)
      .map((c) => [c.metadata.namespace, c.data ?? {}]);
    return JSON.stringify([
      resource.metadata.annotations ?? {},
      resource.spec ?? {},
      secrets,
      services,
      baseUrl,
      // A sink that goes away stops the source, as one that is added starts it.
      this.targetsPresent(resource.spec, resource.metadata.namespace),
    ]);
  }
}

const MAX_DEPTH = 16;

/** Every `{ref: {kind, name, namespace?}}` in a spec, at any depth (sink, subscriber, dead letter). */
function refsIn(value: unknown, depth = 0, out: Record<string, unknown>[] = []) {
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return out;
  if (Array.isArray(value)) {
    for (const item of value) refsIn(item, depth + 1, out);
    return out;
  }
  const ref = (value as Record<string, unknown>)["ref"];
  if (typeof ref === "object" && ref !== null) out.push(ref as Record<string, unknown>);
  for (const child of Object.values(value)) refsIn(child, depth + 1, out);
  return out;
}

/** Every string value in a spec, at any depth: the names a source may read a Secret by. */
function stringsIn(value: unknown, depth = 0, out = new Set<string>()): Set<string> {
  if (typeof value === "string") out.add(value);
  if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return out;
  for (const child of Object.values(value)) stringsIn(child, depth + 1, out);
  return out;
}

async function stop(running: RunningSource): Promise<void> {
  running.abort.abort();
  await running.source.stop();
}
