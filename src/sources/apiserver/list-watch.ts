import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../../observability/logger.js";
import type { ApiReachability } from "./api-reachability.js";
import { KubeApiError, type KubeClient } from "./kube-client.js";
import type { ChangeKind, KubeObject } from "./resource-event.js";

export interface ListWatchOptions {
  /** Collection path, e.g. /api/v1/namespaces/default/pods. */
  readonly path: string;
  readonly labelSelector?: string;
  /** Filled into listed items, which the API server sends without them. */
  readonly apiVersion: string;
  readonly kind: string;
  /** Report what the first list finds as `add` (otherwise it only primes the cache). */
  readonly emitInitial?: boolean;
  /** Called after each list, once its changes are reported. */
  readonly onListed?: () => void;
}

export type ChangeListener = (change: ChangeKind, object: KubeObject) => void;

class GoneError extends Error {}

/**
 * Keeps one collection in view the way client-go's reflector does: list, then watch from the
 * list's resourceVersion with bookmarks, re-watch from the last version seen when a watch ends,
 * and relist when the server answers 410 Gone (its history no longer reaches that far back).
 * A relist is compared with what was known, so changes made while the watch was down are still
 * reported (coalesced: one update per object, a delete for whatever vanished).
 */
export class ListWatch {
  private readonly known = new Map<string, KubeObject>();
  private resourceVersion = "";
  private listed = false;

  constructor(
    private readonly client: KubeClient,
    private readonly options: ListWatchOptions,
    private readonly onChange: ChangeListener,
    private readonly logger: Logger,
    private readonly signal: AbortSignal,
    private readonly reachability: ApiReachability,
  ) {}

  /** Runs until the signal aborts. */
  async run(): Promise<void> {
    let delay = 500;
    while (!this.signal.aborted) {
      try {
        if (this.resourceVersion === "") {
          await this.list();
          this.reachability.succeeded(this.options.path);
        }
        await this.watch();
        delay = 500;
      } catch (error) {
        if (this.signal.aborted) return;
        if (error instanceof GoneError || (error instanceof KubeApiError && error.status === 410)) {
          this.logger.info({ path: this.options.path }, "watch history expired (410): relisting");
          this.resourceVersion = "";
          continue;
        }
        this.reachability.failed(this.options.path, error);
        await sleep(delay, undefined, { signal: this.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  private selectorQuery(): Record<string, string | undefined> {
    return this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {};
  }

  private withType(object: Record<string, unknown>): KubeObject {
    if (object["apiVersion"] !== undefined && object["kind"] !== undefined) return object;
    return { apiVersion: this.options.apiVersion, kind: this.options.kind, ...object };
  }

  private async list(): Promise<void> {
    const list = (await this.client.getJson(
      this.options.path,
      this.selectorQuery(),
      this.signal,
    )) as {
      metadata?: { resourceVersion?: string };
      items?: Record<string, unknown>[];
    };
    const report = this.listed || this.options.emitInitial === true;
    const seen = new Set<string>();
    for (const item of list.items ?? []) {
      const object = this.withType(item);
      const key = keyOf(object);
      seen.add(key);
      const before = this.known.get(key);
      this.known.set(key, object);
      if (!report) continue;
      if (before === undefined) this.onChange("add", object);
      else if (versionOf(before) !== versionOf(object)) this.onChange("update", object);
    }
    for (const [key, object] of this.known) {
      if (seen.has(key)) continue;
      this.known.delete(key);
      if (report) this.onChange("delete", object);
    }
    this.listed = true;
    this.resourceVersion = list.metadata?.resourceVersion ?? "";
    this.options.onListed?.();
  }

  private async watch(): Promise<void> {
    let gone: GoneError | undefined;
    let failure: KubeApiError | undefined;
    const stream = new AbortController();
    const stopStream = () => stream.abort();
    this.signal.addEventListener("abort", stopStream, { once: true });
    try {
      await this.client.watch(
        this.options.path,
        {
          ...this.selectorQuery(),
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          // Like client-go: a random 5–10 minute window, so watchers do not all renew at once.
          timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        },
        (type, raw) => {
          if (gone || failure) return;
          if (type === "ERROR") {
            const code = Number(raw["code"]);
            if (code === 410) gone = new GoneError(String(raw["message"] ?? "Gone"));
            else
              failure = new KubeApiError(
                `watch error: ${raw["message"] ?? JSON.stringify(raw)}`,
                code,
              );
            stream.abort();
            return;
          }
          const object = this.withType(raw);
          const version = versionOf(object);
          if (version) this.resourceVersion = version;
          if (type === "BOOKMARK") return;
          const key = keyOf(object);
          if (type === "DELETED") {
            this.known.delete(key);
            this.onChange("delete", object);
          } else {
            const before = this.known.get(key);
            this.known.set(key, object);
            this.onChange(type === "ADDED" && before === undefined ? "add" : "update", object);
          }
        },
        stream.signal,
        () => this.reachability.succeeded(this.options.path),
      );
    } finally {
      this.signal.removeEventListener("abort", stopStream);
    }
    if (gone) throw gone;
    if (failure) throw failure;
  }
}

function keyOf(object: KubeObject): string {
  const meta = object.metadata ?? {};
  return meta.uid ?? `${meta.namespace ?? ""}/${meta.name ?? ""}`;
}

function versionOf(object: KubeObject): string | undefined {
  return object.metadata?.resourceVersion;
}
