import { setTimeout as sleep } from "node:timers/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import { Informer, type InformerOptions } from "../../kubernetes/informer.js";
import { KubeRest } from "../../kubernetes/kube-rest.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";
import { ApiReachability } from "./api-reachability.js";
import { loadKubeConfig } from "./kube-client.js";
import { type LabelSelector, selectorQuery } from "./label-selector.js";
import {
  apiServerEvent,
  type ChangeKind,
  type KubeObject,
  type Mode,
  type ResourceInfo,
} from "./resource-event.js";

export interface ApiServerResource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly selector?: LabelSelector;
}

export interface ApiServerSourceSpec {
  readonly resources: readonly ApiServerResource[];
  /** Only objects with an owner reference of this apiVersion and kind. */
  readonly owner?: { readonly apiVersion?: string; readonly kind?: string };
  /** Default Reference, as Knative's. */
  readonly mode?: Mode;
  /** Absent: this source's namespace only; `{}`: every namespace; else the matching ones. */
  readonly namespaceSelector?: LabelSelector;
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

export interface ApiServerSourceLimits {
  /**
   * Changes waiting for the sink at which the watches pause (default 1000); they resume once
   * half of them are delivered.
   */
  readonly maxQueued?: number;
}

const DEFAULT_MAX_QUEUED = 1000;

interface Change {
  readonly change: ChangeKind;
  readonly object: KubeObject;
  readonly info: ResourceInfo;
}

/**
 * ApiServerSource: list+watch of each `spec.resources` entry (with its label selector) in the
 * selected namespaces; every add, update and delete becomes one event, delivered to the sink in
 * the order the API server reported them. Objects that exist when the source starts are not
 * reported, as in Knative; changes missed while a watch was down are (see ListWatch).
 *
 * While the sink is slow or retrying, changes wait here up to `maxQueued`; then the watches
 * pause (closed, nothing read) until half of them are delivered, and resume from the
 * resourceVersion they had reached. Knative's adapter sends from the informer's handler,
 * holding up the watch the same way; nothing is dropped, and when the API server no longer
 * has the history (410) the relist reports the difference.
 */
export class ApiServerSource implements RunnableSource {
  private readonly abort = new AbortController();
  private readonly queue: Change[] = [];
  private wake: (() => void) | undefined;
  private readonly running: Promise<void>[] = [];
  private readonly namespaceWatches = new Map<string, AbortController>();
  private readonly kubeConfig: KubeConfig;
  private readonly rest: KubeRest;
  private readonly reachability: ApiReachability;
  private readonly mode: Mode;
  private readonly maxQueued: number;
  /** The resource watches (not the namespaces'), which pause while the queue is full. */
  private readonly watches = new Set<Informer>();
  private paused = false;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: ApiServerSourceSpec,
    annotations: Readonly<Record<string, string>>,
    private readonly logger: Logger,
    limits: ApiServerSourceLimits = {},
  ) {
    this.maxQueued = Math.max(1, limits.maxQueued ?? DEFAULT_MAX_QUEUED);
    this.kubeConfig = loadKubeConfig(annotations);
    this.rest = new KubeRest(this.kubeConfig);
    this.reachability = new ApiReachability(this.rest.server, logger);
    this.mode = spec.mode ?? "Reference";
  }

  /** Ready once the API answered and while no list/watch is failing (/readyz names the source). */
  ready(): boolean {
    return this.reachability.ready;
  }

  async start(sink: EventSink): Promise<void> {
    this.running.push(this.deliverLoop(sink), this.watchLoop());
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await Promise.all(this.running);
  }

  private async watchLoop(): Promise<void> {
    const infos = await this.discoverAll();
    if (infos === undefined) return;
    const selector = this.spec.namespaceSelector;
    if (selector === undefined) {
      this.watchNamespace(infos, this.namespace, false);
    } else if (selectorQuery(selector) === "") {
      this.watchNamespace(infos, undefined, false);
    } else {
      await this.followNamespaces(infos, selectorQuery(selector));
    }
  }

  /** Discovery, retried until it answers: the plural and scope of every resource. */
  private async discoverAll(): Promise<ResourceInfo[] | undefined> {
    let delay = 500;
    while (!this.abort.signal.aborted) {
      try {
        const infos = await Promise.all(this.spec.resources.map((r) => this.discover(r)));
        this.reachability.succeeded("discovery");
        return infos;
      } catch (error) {
        if (this.abort.signal.aborted) return undefined;
        this.reachability.failed("discovery", error);
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
    return undefined;
  }

  private async discover(resource: ApiServerResource): Promise<ResourceInfo> {
    const path = resource.apiVersion.includes("/")
      ? `/apis/${resource.apiVersion}`
      : `/api/${resource.apiVersion}`;
    const list = (await this.rest.get(path, this.abort.signal)) as {
      resources?: Array<{ name: string; kind: string; namespaced: boolean }>;
    };
    const found = list.resources?.find((r) => r.kind === resource.kind && !r.name.includes("/"));
    if (!found)
      throw new Error(`the API server serves no ${resource.kind} in ${resource.apiVersion}`);
    return {
      apiVersion: resource.apiVersion,
      kind: resource.kind,
      plural: found.name,
      namespaced: found.namespaced,
    };
  }

  /** Watches the namespaces matching the selector, adding and dropping watches as they change. */
  private async followNamespaces(infos: ResourceInfo[], labelSelector: string): Promise<void> {
    let synced = false;
    const namespaces = this.informer(
      {
        apiVersion: "v1",
        kind: "Namespace",
        plural: "namespaces",
        path: "/api/v1/namespaces",
        labelSelector,
        onListed: () => {
          synced = true;
        },
      },
      (change, object) => {
        const name = object.metadata?.name;
        if (!name) return;
        if (change === "delete") {
          this.namespaceWatches.get(name)?.abort();
          this.namespaceWatches.delete(name);
        } else if (!this.namespaceWatches.has(name)) {
          // A namespace that appears later: what is already in it is new to this source.
          this.watchNamespace(infos, name, synced);
        }
      },
    );
    await namespaces.run(this.abort.signal);
  }

  private watchNamespace(
    infos: ResourceInfo[],
    namespace: string | undefined,
    emitInitial: boolean,
  ): void {
    const stop = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, stop.signal]);
    if (namespace !== undefined) this.namespaceWatches.set(namespace, stop);
    this.spec.resources.forEach((resource, index) => {
      const info = infos[index]!;
      const path = collectionPath(info, namespace);
      const watch = this.informer(
        {
          apiVersion: info.apiVersion,
          kind: info.kind,
          plural: info.plural,
          path,
          labelSelector: selectorQuery(resource.selector),
          emitInitial,
        },
        (change, object) => this.enqueue({ change, object: object as KubeObject, info }),
      );
      this.watches.add(watch);
      this.running.push(watch.run(signal).finally(() => this.watches.delete(watch)));
      if (this.paused) watch.pause();
    });
  }

  /** One collection kept in view (list, watch with bookmarks, relist on 410), reporting here. */
  private informer(
    options: Omit<InformerOptions, "onEvent">,
    onEvent: NonNullable<InformerOptions["onEvent"]>,
  ): Informer {
    const party = options.path ?? options.plural;
    return new Informer(
      this.kubeConfig,
      this.rest,
      {
        ...options,
        onEvent,
        onListed: () => {
          this.reachability.succeeded(party);
          options.onListed?.();
        },
        onWatching: () => this.reachability.succeeded(party),
        onError: (error) => this.reachability.failed(party, error),
      },
      this.logger,
    );
  }

  private enqueue(change: Change): void {
    if (!this.ownedAsAsked(change.object)) return;
    this.queue.push(change);
    this.wake?.();
    if (!this.paused && this.queue.length >= this.maxQueued) {
      this.paused = true;
      this.logger.warn(
        { source: `${this.namespace}/${this.name}`, waiting: this.queue.length },
        "the sink is behind; watches paused until it catches up",
      );
      for (const watch of this.watches) watch.pause();
    }
  }

  private resumeIfCaughtUp(): void {
    if (!this.paused || this.queue.length > this.maxQueued / 2) return;
    this.paused = false;
    this.logger.info(
      { source: `${this.namespace}/${this.name}` },
      "the sink caught up; watching again",
    );
    for (const watch of this.watches) watch.resume();
  }

  private ownedAsAsked(object: KubeObject): boolean {
    const owner = this.spec.owner;
    if (!owner || (!owner.apiVersion && !owner.kind)) return true;
    return (object.metadata?.ownerReferences ?? []).some(
      (ref) =>
        (!owner.apiVersion || ref.apiVersion === owner.apiVersion) &&
        (!owner.kind || ref.kind === owner.kind),
    );
  }

  private async deliverLoop(sink: EventSink): Promise<void> {
    while (!this.abort.signal.aborted) {
      const next = this.queue.shift();
      if (next === undefined) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      const event = apiServerEvent(
        this.mode,
        next.change,
        next.object,
        next.info,
        this.rest.server,
        this.spec.ceOverrides?.extensions,
      );
      await sink(event);
      this.resumeIfCaughtUp();
    }
  }
}

function collectionPath(info: ResourceInfo, namespace: string | undefined): string {
  const base = info.apiVersion.includes("/")
    ? `/apis/${info.apiVersion}`
    : `/api/${info.apiVersion}`;
  if (!info.namespaced || namespace === undefined) return `${base}/${info.plural}`;
  return `${base}/namespaces/${namespace}/${info.plural}`;
}
