/**
 * One kind's cache, kept by @kubernetes/client-node's ListWatch (list, then watch from the
 * list's resourceVersion; relist after 410 Gone). Two things it leaves to its user are done here:
 * watches ask for bookmarks, so a quiet collection's resourceVersion stays fresh and a re-watch
 * after a dropped connection rarely lands on a compacted version; and a failed list or watch is
 * restarted with backoff (ListWatch stops on an error). A kind whose CRD is not installed (404)
 * counts as listed and empty, so one missing optional kind does not hold the others back.
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

/** client-node's Watch, asking for bookmarks and a server-side timeout like client-go's reflector. */
class BookmarkWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      {
        ...queryParams,
        allowWatchBookmarks: true,
        // A random 5–10 minute window, so watchers do not all renew at once.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
      },
      callback,
      done,
    );
  }
}

export interface InformerOptions {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  /** Undefined: all namespaces. */
  readonly namespace?: string;
  readonly fieldSelector?: string;
  /** Called on every add, update, delete and (re)list. */
  readonly onChange: () => void;
}

export class Informer {
  private readonly listWatch: ListWatch<KubernetesObject>;
  private listedOnce = false;
  private stopped = false;
  private delayMs = 500;
  private retry: NodeJS.Timeout | undefined;
  readonly path: string;

  constructor(
    config: KubeConfig,
    rest: KubeRest,
    options: InformerOptions,
    private readonly logger: Logger,
  ) {
    this.path = collectionPath(options.apiVersion, options.plural, options.namespace);
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      let answer: KubernetesListObject<KubernetesObject>;
      try {
        answer = (await rest.get(this.path)) as unknown as KubernetesListObject<KubernetesObject>;
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
        answer = { apiVersion: "v1", kind: "List", metadata: {}, items: [] };
      }
      // List items come without apiVersion and kind; the runtime needs both.
      for (const item of answer.items ?? []) {
        item.apiVersion ??= options.apiVersion;
        item.kind ??= options.kind;
      }
      this.listedOnce = true;
      this.delayMs = 500;
      // ListWatch stores the items right after this resolves; the change is read after that.
      setImmediate(options.onChange);
      return answer;
    };
    this.listWatch = new ListWatch(
      this.path,
      new BookmarkWatch(config),
      list,
      false,
      undefined,
      options.fieldSelector,
    );
    const changed = (object: KubernetesObject) => {
      object.apiVersion ??= options.apiVersion;
      object.kind ??= options.kind;
      this.delayMs = 500;
      options.onChange();
    };
    this.listWatch.on("add", changed);
    this.listWatch.on("update", changed);
    this.listWatch.on("delete", changed);
    this.listWatch.on("error", (error) => this.restartLater(error));
  }

  /** True once the first list came back (until then the cache says nothing). */
  get listed(): boolean {
    return this.listedOnce;
  }

  start(): void {
    void this.listWatch.start().catch((error: unknown) => this.restartLater(error));
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    void this.listWatch.stop();
  }

  list(): readonly KubernetesObject[] {
    return this.listWatch.list();
  }

  private restartLater(error: unknown): void {
    if (this.stopped) return;
    const status = (error as { statusCode?: number; code?: number }).statusCode;
    if (status !== 404) {
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
