/**
 * One kind's cache, kept by @kubernetes/client-node's ListWatch (list, then watch from the
 * list's resourceVersion; relist after 410 Gone). Two things it leaves to its user are done here:
 * watches ask for bookmarks, so a quiet collection's resourceVersion stays fresh and a re-watch
 * after a dropped connection rarely lands on a compacted version; and a failed list or watch is
 * restarted with backoff (ListWatch stops on an error). For the controller, a kind whose CRD
 * is not installed (404), or that RBAC does not let it list at first (403), counts as listed and
 * empty (`optional`), so one missing kind does not hold the others back.
 * The controller and ApiServerSource both watch through it.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from "@kubernetes/client-node";
import type { Logger } from "../observability/logger.js";
import { collectionPath, isStatus, type KubeRest } from "./kube-rest.js";

/** What a BookmarkWatch asks of its Informer. */
interface WatchHooks {
  /** Informer.pause() is in effect: no watch is to stay open. */
  paused(): boolean;
  /** A watch was accepted. */
  opened(): void;
}

/** client-node's Watch, asking for bookmarks and a server-side timeout like client-go's reflector. */
class BookmarkWatch extends Watch {
  /** The latest watch opened, for Informer.pause() to close. */
  current: AbortController | undefined;

  constructor(
    config: KubeConfig,
    private readonly hooks: WatchHooks,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    if (this.hooks.paused()) {
      // ListWatch watches again as soon as a watch ends; told this one failed, it stops and
      // waits for the Informer to start it (resume()).
      done(new Error("watching is paused"));
      return new AbortController();
    }
    // Watch.watch resolves even when the request failed (refused, or not answered 200): it
    // reports that through done first. Only an accepted watch says the API is reachable.
    let failed = false;
    const started = await super.watch(
      path,
      {
        ...queryParams,
        allowWatchBookmarks: true,
        // A random 5–10 minute window, so watchers do not all renew at once.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      },
      callback,
      (err) => {
        if (err) failed = true;
        done(err);
      },
    );
    this.current = started;
    // Paused while the request was under way: what it brought so far is reported, no more.
    if (this.hooks.paused()) started.abort();
    else if (!failed) this.hooks.opened();
    return started;
  }
}

export type InformerChange = "add" | "update" | "delete";

export interface InformerOptions {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  /** Undefined: all namespaces. */
  readonly namespace?: string;
  /** The collection's path when it is not the one apiVersion, plural and namespace give. */
  readonly path?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /**
   * The kind may be absent: a 404 (CRD not installed), or a 403 on the first list (RBAC does not
   * cover it), reads as an empty collection instead of failing.
   */
  readonly optional?: boolean;
  /** Report what the first list finds as adds (default true); false only primes the cache. */
  readonly emitInitial?: boolean;
  /** Called on every add, update, delete and (re)list. */
  readonly onChange?: () => void;
  /** Each change, with the object. */
  readonly onEvent?: (change: InformerChange, object: KubernetesObject) => void;
  /** A list answered (the API is reachable); called once its adds have been reported. */
  readonly onListed?: () => void;
  /** A watch was accepted (the API is reachable). */
  readonly onWatching?: () => void;
  /** A list or watch failed; replaces the default warning (it is retried either way). */
  readonly onError?: (error: unknown) => void;
}

export class Informer {
  private readonly listWatch: ListWatch<KubernetesObject>;
  private readonly watcher: BookmarkWatch;
  private listedOnce = false;
  private paused = false;
  /** While paused: ListWatch gave up (reported an error) and waits for start(). */
  private idle = false;
  private priming = false;
  private stopped = false;
  private delayMs = 500;
  private retry: NodeJS.Timeout | undefined;
  readonly path: string;

  constructor(
    config: KubeConfig,
    rest: KubeRest,
    private readonly options: InformerOptions,
    private readonly logger: Logger,
  ) {
    this.path =
      options.path ?? collectionPath(options.apiVersion, options.plural, options.namespace);
    const query = new URLSearchParams();
    if (options.labelSelector) query.set("labelSelector", options.labelSelector);
    if (options.fieldSelector) query.set("fieldSelector", options.fieldSelector);
    const listPath = query.size > 0 ? `${this.path}?${query}` : this.path;
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      let answer: KubernetesListObject<KubernetesObject>;
      try {
        answer = (await rest.get(listPath)) as unknown as KubernetesListObject<KubernetesObject>;
      } catch (error) {
        if (!options.optional) throw error;
        if (isStatus(error, 403) && !this.listedOnce) {
          // RBAC that does not cover a kind (--serve-knative-kinds with config/'s rules) must not
          // keep every other kind from being served: this one counts as empty until allowed.
          logger.warn(
            { path: this.path, reason: (error as Error).message },
            "not allowed to list this kind; serving none of it",
          );
        } else if (!isStatus(error, 404)) throw error;
        answer = { apiVersion: "v1", kind: "List", metadata: {}, items: [] };
      }
      // List items come without apiVersion and kind; the runtime needs both.
      for (const item of answer.items ?? []) {
        item.apiVersion ??= options.apiVersion;
        item.kind ??= options.kind;
      }
      // The first list only primes the cache unless told otherwise: ListWatch reports its items
      // as adds right after this resolves, before anything queued with setImmediate runs.
      if (!this.listedOnce && options.emitInitial === false) {
        this.priming = true;
        setImmediate(() => {
          this.priming = false;
        });
      }
      this.listedOnce = true;
      this.delayMs = 500;
      // After the list's adds (see above): a user that treats adds seen before onListed as
      // "what was already there" would otherwise take the listed objects for new ones.
      if (options.onListed) setImmediate(options.onListed);
      if (options.onChange) setImmediate(options.onChange);
      return answer;
    };
    this.watcher = new BookmarkWatch(config, {
      paused: () => this.paused,
      opened: () => options.onWatching?.(),
    });
    this.listWatch = new ListWatch(
      this.path,
      this.watcher,
      list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    const changed = (change: InformerChange) => (object: KubernetesObject) => {
      object.apiVersion ??= options.apiVersion;
      object.kind ??= options.kind;
      this.delayMs = 500;
      if (this.priming) return;
      options.onEvent?.(change, object);
      options.onChange?.();
    };
    this.listWatch.on("add", changed("add"));
    this.listWatch.on("update", changed("update"));
    this.listWatch.on("delete", changed("delete"));
    this.listWatch.on("error", (error) => this.restartLater(error));
  }

  /** True once the first list came back (until then the cache says nothing). */
  get listed(): boolean {
    return this.listedOnce;
  }

  start(): void {
    void this.listWatch.start().catch((error: unknown) => this.restartLater(error));
  }

  /** Runs until `signal` aborts. */
  run(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    this.start();
    return new Promise((resolve) => {
      signal.addEventListener(
        "abort",
        () => {
          this.stop();
          resolve();
        },
        { once: true },
      );
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    void this.listWatch.stop();
  }

  list(): readonly KubernetesObject[] {
    return this.listWatch.list();
  }

  /**
   * Stops reading changes until resume(), for a consumer that cannot keep up: the watch is
   * closed and none is opened, the cache and its resourceVersion stay. The changes wait in
   * the API server meanwhile, not in this process.
   */
  pause(): void {
    if (this.paused || this.stopped) return;
    this.paused = true;
    if (this.retry) {
      clearTimeout(this.retry);
      this.retry = undefined;
      this.idle = true;
    }
    this.watcher.current?.abort();
  }

  /**
   * Watches again from where pause() left off: the API server sends what changed meanwhile,
   * or answers 410 Gone and the relist reports the difference.
   */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    // Not idle: a list or a watch request is under way, and now goes on to watch.
    if (this.idle && !this.stopped) {
      this.idle = false;
      this.start();
    }
  }

  private restartLater(error: unknown): void {
    if (this.stopped) return;
    if (this.paused) {
      // Closed by pause() or not opened because of it (or failed meanwhile): resume() starts.
      this.idle = true;
      return;
    }
    const status = (error as { statusCode?: number; code?: number }).statusCode;
    if (this.options.onError) this.options.onError(error);
    else if (status !== 404) {
      this.logger.warn(
        {
          path: this.path,
          reason: (error as Error)?.message ?? String(error),
          retryInMs: this.delayMs,
        },
        "watch failed; restarting",
      );
    }
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.stopped) this.start();
    }, this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, 30_000);
  }
}
