// TEST DOUBLE: a stand-in for the Kubernetes API server (none can run here), for ApiServerSource tests.
import { randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Speaks the parts of the Kubernetes API that list+watch clients use, the way the real server
 * does: discovery (/api/v1, /apis/{group}/{version}), collection lists carrying the list's
 * resourceVersion (items without kind/apiVersion), and watches as a chunked stream of JSON lines
 * (`{"type": "ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR", "object": …}`) from a
 * resourceVersion, with label selectors (objects entering or leaving a selector are ADDED or
 * DELETED), bookmarks when allowWatchBookmarks is set, timeoutSeconds, and a 410 Expired ERROR
 * event when the version asked for is older than the history kept.
 *
 * Tests drive it: create/update/remove objects, expire() the watch history (as compaction does),
 * hold lists to open a window in which changes are seen by no watch.
 */

export interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    [key: string]: unknown;
  };
};

export const DEFAULT_KINDS: readonly KindInfo[] = [
  { apiVersion: "v1", kind: "Pod", plural: "pods", namespaced: true },
  { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true },
  { apiVersion: "v1", kind: "Namespace", plural: "namespaces", namespaced: false },
  { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true },
];

type WatchType = "ADDED" | "MODIFIED" | "DELETED";

interface Change {
  readonly rv: number;
  readonly type: WatchType;
  readonly info: KindInfo;
  readonly object: KubeObject;
  /** The object before a MODIFIED, for selector enter/leave. */
  readonly previous?: KubeObject;
}

interface Scope {
  readonly info: KindInfo;
  readonly namespace?: string;
  readonly selector: (labels: Record<string, string>) => boolean;
}

interface OpenWatch {
  readonly scope: Scope;
  readonly response: http.ServerResponse;
  readonly end: () => void;
}

export interface RecordedRequest {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorization?: string;
}

export interface KubeApiServerDoubleOptions {
  readonly kinds?: readonly KindInfo[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** How often watches that allow bookmarks get one. Default 200 ms. */
  readonly bookmarkMs?: number;
}

export class KubeApiServerDouble {
  url = "";
  readonly requests: RecordedRequest[] = [];
  private readonly server: http.Server;
  private readonly kinds: readonly KindInfo[];
  private readonly objects = new Map<string, { info: KindInfo; object: KubeObject }>();
  private readonly history: Change[] = [];
  private readonly watches = new Set<OpenWatch>();
  private revision = 100;
  /** The oldest resourceVersion a watch may start from. */
  private oldestWatchable = 0;
  private heldLists: Array<() => void> | undefined;

  constructor(private readonly options: KubeApiServerDoubleOptions = {}) {
    this.kinds = options.kinds ?? DEFAULT_KINDS;
    this.server = http.createServer((request, response) => this.route(request, response));
  }

  /** Listens on `port` (a test's chosen one, to play a cluster that comes up late) or a free one. */
  async start(port = 0): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const watch of this.watches) watch.end();
    this.releaseLists();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Watch streams open right now. */
  get openWatches(): number {
    return this.watches.size;
  }

  create(object: KubeObject): KubeObject {
    const info = this.infoOf(object.apiVersion, object.kind);
    const metadata = {
      ...object.metadata,
      ...(info.namespaced ? { namespace: object.metadata.namespace ?? "default" } : {}),
      uid: randomUUID(),
      resourceVersion: String(++this.revision),
      creationTimestamp: new Date().toISOString(),
    };
    const created: KubeObject = { ...object, metadata };
    const key = this.keyOf(info, metadata.namespace, metadata.name);
    if (this.objects.has(key)) throw new Error(`${key} already exists`);
    this.objects.set(key, { info, object: created });
    this.record("ADDED", info, created);
    return created;
  }

  update(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    change: (object: KubeObject) => KubeObject,
  ): KubeObject {
    const info = this.infoOf(apiVersion, kind);
    const key = this.keyOf(info, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw new Error(`${key} not found`);
    const next = change(structuredClone(current.object));
    next.metadata = { ...next.metadata, resourceVersion: String(++this.revision) };
    this.objects.set(key, { info, object: next });
    this.record("MODIFIED", info, next, current.object);
    return next;
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const info = this.infoOf(apiVersion, kind);
    const key = this.keyOf(info, namespace, name);
    const current = this.objects.get(key);
    if (!current) throw new Error(`${key} not found`);
    this.objects.delete(key);
    const gone = {
      ...current.object,
      metadata: { ...current.object.metadata, resourceVersion: String(++this.revision) },
    };
    this.record("DELETED", info, gone);
  }

  /**
   * What etcd compaction does to watchers: history before now is gone, so every open watch gets
   * a 410 Expired ERROR event and ends, and watching from any older version answers the same.
   */
  expire(): void {
    this.oldestWatchable = this.revision + 1;
    this.history.length = 0;
    for (const watch of [...this.watches]) {
      this.write(watch.response, { type: "ERROR", object: this.expiredStatus("0") });
      watch.end();
    }
  }

  /** Ends every open watch normally, as its timeoutSeconds would. */
  endWatches(): void {
    for (const watch of [...this.watches]) watch.end();
  }

  /** Lists wait until releaseLists(): changes made meanwhile reach no watch, only the list. */
  holdLists(): void {
    this.heldLists ??= [];
  }

  /** Lists waiting since holdLists(). */
  get waitingLists(): number {
    return this.heldLists?.length ?? 0;
  }

  releaseLists(): void {
    const held = this.heldLists ?? [];
    this.heldLists = undefined;
    for (const release of held) release();
  }

  private infoOf(apiVersion: string, kind: string): KindInfo {
    const info = this.kinds.find((k) => k.apiVersion === apiVersion && k.kind === kind);
    if (!info) throw new Error(`the double serves no ${kind} in ${apiVersion}`);
    return info;
  }

  private keyOf(info: KindInfo, namespace: string | undefined, name: string): string {
    return `${info.apiVersion}/${info.plural}/${info.namespaced ? (namespace ?? "default") : ""}/${name}`;
  }

  private record(type: WatchType, info: KindInfo, object: KubeObject, previous?: KubeObject): void {
    const change: Change = {
      rv: this.revision,
      type,
      info,
      object,
      ...(previous ? { previous } : {}),
    };
    this.history.push(change);
    for (const watch of this.watches) {
      const event = this.eventFor(watch.scope, change);
      if (event) this.write(watch.response, event);
    }
  }

  /** The watch event a change means for one watch scope, or none (selectors: enter = ADDED, leave = DELETED). */
  private eventFor(
    scope: Scope,
    change: Change,
  ): { type: WatchType; object: KubeObject } | undefined {
    if (change.info !== scope.info) return undefined;
    if (scope.namespace !== undefined && change.object.metadata.namespace !== scope.namespace)
      return undefined;
    const now = scope.selector(change.object.metadata.labels ?? {});
    if (change.type !== "MODIFIED")
      return now ? { type: change.type, object: change.object } : undefined;
    const before = scope.selector(change.previous?.metadata.labels ?? {});
    if (before && now) return { type: "MODIFIED", object: change.object };
    if (!before && now) return { type: "ADDED", object: change.object };
    if (before && !now) return { type: "DELETED", object: change.object };
    return undefined;
  }

  private write(response: http.ServerResponse, event: unknown): void {
    response.write(`${JSON.stringify(event)}\n`);
  }

  private expiredStatus(asked: string) {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `too old resource version: ${asked} (${this.oldestWatchable})`,
      reason: "Expired",
      code: 410,
    };
  }

  private route(request: http.IncomingMessage, response: http.ServerResponse): void {
    const url = new URL(request.url ?? "/", "http://double");
    const query = Object.fromEntries(url.searchParams);
    const authorization = request.headers.authorization;
    this.requests.push({ path: url.pathname, query, ...(authorization ? { authorization } : {}) });
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify(body));
    };
    if (this.options.token && authorization !== `Bearer ${this.options.token}`) {
      json(401, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "Unauthorized",
        code: 401,
      });
      return;
    }
    if (request.method !== "GET") {
      json(405, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "MethodNotAllowed",
        code: 405,
      });
      return;
    }
    const discovery = this.discovery(url.pathname);
    if (discovery) {
      json(200, discovery);
      return;
    }
    const scope = this.scopeOf(url.pathname, query["labelSelector"] ?? "");
    if (!scope) {
      json(404, {
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: "NotFound",
        code: 404,
      });
      return;
    }
    if (query["watch"] === "true" || query["watch"] === "1") this.watch(scope, query, response);
    else if (this.heldLists) this.heldLists.push(() => json(200, this.list(scope)));
    else json(200, this.list(scope));
  }

  private discovery(path: string): unknown {
    const groupVersion = path === "/api/v1" ? "v1" : /^\/apis\/([^/]+\/[^/]+)$/.exec(path)?.[1];
    if (groupVersion === undefined) return undefined;
    const kinds = this.kinds.filter((k) => k.apiVersion === groupVersion);
    if (kinds.length === 0) return undefined;
    return {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion,
      resources: kinds.flatMap((k) => [
        {
          name: k.plural,
          singularName: k.kind.toLowerCase(),
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
        },
        {
          name: `${k.plural}/status`,
          singularName: "",
          namespaced: k.namespaced,
          kind: k.kind,
          verbs: ["get", "patch", "update"],
        },
      ]),
    };
  }

  private scopeOf(path: string, labelSelector: string): Scope | undefined {
    const match =
      /^\/api\/(v1)(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(path) ??
      /^\/apis\/([^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)$/.exec(path);
    if (!match) return undefined;
    const [, apiVersion, namespace, plural] = match;
    const info = this.kinds.find((k) => k.apiVersion === apiVersion && k.plural === plural);
    if (!info || (namespace !== undefined && !info.namespaced)) return undefined;
    return { info, ...(namespace ? { namespace } : {}), selector: parseSelector(labelSelector) };
  }

  private matching(scope: Scope): KubeObject[] {
    return [...this.objects.values()]
      .filter(({ info }) => info === scope.info)
      .map(({ object }) => object)
      .filter((o) => scope.namespace === undefined || o.metadata.namespace === scope.namespace)
      .filter((o) => scope.selector(o.metadata.labels ?? {}));
  }

  private list(scope: Scope) {
    return {
      kind: `${scope.info.kind}List`,
      apiVersion: scope.info.apiVersion,
      metadata: { resourceVersion: String(this.revision) },
      // Like the real server, list items carry no apiVersion and kind.
      items: this.matching(scope).map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
    };
  }

  private watch(scope: Scope, query: Record<string, string>, response: http.ServerResponse): void {
    response.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    const from = query["resourceVersion"];
    if (from !== undefined && from !== "" && from !== "0" && Number(from) < this.oldestWatchable) {
      this.write(response, { type: "ERROR", object: this.expiredStatus(from) });
      response.end();
      return;
    }
    if (from === undefined || from === "" || from === "0") {
      for (const object of this.matching(scope)) this.write(response, { type: "ADDED", object });
    } else {
      for (const change of this.history.filter((c) => c.rv > Number(from))) {
        const event = this.eventFor(scope, change);
        if (event) this.write(response, event);
      }
    }
    const timers: NodeJS.Timeout[] = [];
    const watch: OpenWatch = {
      scope,
      response,
      end: () => {
        for (const timer of timers) clearTimeout(timer);
        this.watches.delete(watch);
        if (!response.writableEnded) response.end();
      },
    };
    this.watches.add(watch);
    response.on("close", watch.end);
    if (query["allowWatchBookmarks"] === "true") {
      const bookmark = () => {
        this.write(response, {
          type: "BOOKMARK",
          object: {
            kind: scope.info.kind,
            apiVersion: scope.info.apiVersion,
            metadata: { resourceVersion: String(this.revision) },
          },
        });
        timers[0] = setTimeout(bookmark, this.options.bookmarkMs ?? 200);
      };
      timers[0] = setTimeout(bookmark, this.options.bookmarkMs ?? 200);
    }
    const timeout = Number(query["timeoutSeconds"]);
    if (timeout > 0) timers[1] = setTimeout(watch.end, timeout * 1000);
  }
}

/** Kubernetes label selector syntax: `a=b,c!=d,e in (f,g),h notin (i),j,!k`. */
export function parseSelector(text: string): (labels: Record<string, string>) => boolean {
  const terms =
    text
      .match(/[^,()]+(\([^)]*\))?/g)
      ?.map((t) => t.trim())
      .filter(Boolean) ?? [];
  const tests = terms.map((term): ((labels: Record<string, string>) => boolean) => {
    const set = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (set) {
      const [, key, op, values] = set;
      const allowed = values!.split(",").map((v) => v.trim());
      return op === "in"
        ? (l) => l[key!] !== undefined && allowed.includes(l[key!]!)
        : (l) => l[key!] === undefined || !allowed.includes(l[key!]!);
    }
    const pair = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
    if (pair) {
      const [, key, op, value] = pair;
      return op === "!=" ? (l) => l[key!] !== value : (l) => l[key!] === value;
    }
    if (term.startsWith("!")) return (l) => l[term.slice(1)] === undefined;
    return (l) => l[term] !== undefined;
  });
  return (labels) => tests.every((test) => test(labels));
}
