import type { SinkTarget } from "../events/ingress-target.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { NoticeOnce } from "../observability/notice-once.js";
import { isMissingReference } from "../resources/missing-reference.js";
import { secretData } from "../resources/secrets.js";
import type { ResourceStore } from "../resources/store.js";
import type { Resource } from "../resources/types.js";
import { SINK_KINDS } from "../sinks/kinds.js";
import type { RunnableSink, SinkContext, SinkKind } from "../sinks/registry.js";

interface RunningSink {
  readonly kind: string;
  readonly sink: RunnableSink;
  readonly fingerprint: string;
}

export interface SinkSetDeps {
  readonly store: ResourceStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

/**
 * The running sinks of every kind in SINK_KINDS, by `namespace/name` (validation keeps a name
 * unique across sink kinds, as they share /sinks/{namespace}/{name}). A sink whose spec,
 * annotations or namespace Secrets changed is updated in place when its kind can, else replaced.
 */
export class SinkSet {
  private readonly running = new Map<string, RunningSink>();
  /** Sinks waiting for what they name, each logged once. */
  private readonly notices = new NoticeOnce();
  /** Why each sink that could not start did not, by `namespace/name`. */
  readonly failures = new Map<string, string>();

  constructor(private readonly deps: SinkSetDeps) {}

  get(namespace: string, name: string): SinkTarget | undefined {
    return this.running.get(`${namespace}/${name}`)?.sink;
  }

  /** Returns false when a sink could not be created: retry later. */
  async reconcile(): Promise<boolean> {
    const desired = new Map<string, { resource: Resource; kind: SinkKind }>();
    for (const kind of SINK_KINDS) {
      for (const resource of this.deps.store.list(kind.kind)) {
        desired.set(`${resource.metadata.namespace}/${resource.metadata.name}`, {
          resource,
          kind,
        });
      }
    }
    for (const [key, running] of this.running) {
      const wanted = desired.get(key);
      if (wanted && wanted.kind.kind === running.kind) {
        const fingerprint = this.fingerprint(wanted.resource);
        if (fingerprint === running.fingerprint) continue;
        if (running.sink.update) {
          running.sink.update(wanted.resource, this.context(wanted.resource, wanted.kind));
          this.running.set(key, { ...running, fingerprint });
          continue;
        }
      }
      this.running.delete(key);
      await this.close(key, running);
    }
    let complete = true;
    this.notices.keepOnly(desired);
    this.failures.clear();
    for (const [key, { resource, kind }] of desired) {
      if (this.running.has(key)) continue;
      try {
        const sink = await kind.create(resource, this.context(resource, kind));
        this.running.set(key, { kind: kind.kind, sink, fingerprint: this.fingerprint(resource) });
        this.notices.forget(key);
      } catch (error) {
        this.failures.set(key, (error as Error).message);
        const sinkId = `${kind.kind}/${key}`;
        if (!isMissingReference(error)) {
          this.deps.logger.error({ err: error, sink: sinkId }, "sink could not start");
          complete = false;
        } else if (this.notices.first(key, error.message)) {
          // A Secret it names is not among the manifests: it starts once a reload adds it.
          this.deps.logger.warn(
            { sink: sinkId, missing: error.message },
            "sink waits: something it names is not among the manifests",
          );
        }
      }
    }
    return complete;
  }

  async stopAll(): Promise<void> {
    const all = [...this.running];
    this.running.clear();
    await Promise.all(all.map(([key, running]) => this.close(key, running)));
  }

  private async close(key: string, running: RunningSink): Promise<void> {
    try {
      await running.sink.close();
    } catch (error) {
      this.deps.logger.warn({ err: error, sink: `${running.kind}/${key}` }, "sink did not close");
    }
  }

  private context(resource: Resource, kind: SinkKind): SinkContext {
    const { namespace, name } = resource.metadata;
    const secret = (ns: string, secretName: string) => {
      const found = this.deps.store.get("Secret", ns, secretName);
      return found ? secretData(found) : undefined;
    };
    return {
      namespace,
      name,
      logger: this.deps.logger.child({ sink: `${kind.kind}/${namespace}/${name}` }),
      metrics: this.deps.metrics,
      secret,
      secretValue: (ns, secretName, key) => secret(ns, secretName)?.[key],
    };
  }

  /** Secrets can change what a sink does (credentials, env), so they are part of its fingerprint. */
  private fingerprint(resource: Resource): string {
    const secrets = this.deps.store
      .list("Secret")
      .filter((s) => s.metadata.namespace === resource.metadata.namespace)
      .map((s) => [s.metadata.name, s.data ?? {}, s.stringData ?? {}]);
    return JSON.stringify([resource.metadata.annotations ?? {}, resource.spec ?? {}, secrets]);
  }
}
