// STAND-IN for a Kubernetes API server (none can run here): implements only what Eventail's controller and ApiServerSource use.
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
 *
 * For the controller it also takes writes as the real server does: GET of one object, POST to a
 * collection (409 AlreadyExists), PUT of an object (409 Conflict on a stale
 * metadata.resourceVersion), and the status subresource (PUT and merge PATCH of `.../status`,
 * same optimistic concurrency; a PUT of the object itself leaves status alone and a status write
 * leaves the rest alone). metadata.generation starts at 1 and is bumped when anything but
 * metadata and status changes. Leases (coordination.k8s.io/v1) and Secrets are plain objects.
 */

export interface KindInfo {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** Writes to `status` go through the status subresource only (CRDs with `subresources.status`). */
  readonly statusSubresource?: boolean;
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

export interface KubeApiStandInOptions {
  readonly kinds?: readonly KindInfo[];
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** How often watches that allow bookmarks get one. Default 200 ms. */
  readonly bookmarkMs?: number;
  /**
   * Compaction: only the last `historyLimit` changes stay watchable; a watch from an older
   * resourceVersion gets 410 Expired. Unset keeps everything (until expire()).
   */
  readonly historyLimit?: number;
}

/** A write that reached the server: method, path and the answer's status code. */
export interface RecordedWrite {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

export class KubeApiStandIn {
  url = "";
  readonly requests: RecordedRequest[] = [];
  readonly writes: RecordedWrite[] = [];
  /** Status writes still to be raced by a concurrent change (conflictNextStatusWrites). */
  private racedStatusWrites = 0;
  private readonly server: http.Server;
  private readonly kinds: readonly KindInfo[];
  private readonly objects = new Map<string, { info: KindInfo; object: KubeObject }>();
  private readonly history: Change[] = [];
  private readonly watches = new Set<OpenWatch>();
  private revision = 100;
  /** The oldest resourceVersion a watch may start from. */
  private oldestWatchable = 0;
  private heldLists: Array<() => void> | undefined;

  constructor(private readonly options: KubeApiStandInOptions = {}) {
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
      generation: 1,
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
    return this.store(info, key, current.object, change(structuredClone(current.object)));
  }

  /** The stored object, or undefined. */
  get(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
  ): KubeObject | undefined {
    const info = this.infoOf(apiVersion, kind);
    return this.objects.get(this.keyOf(info, namespace, name))?.object;
  }

  /**
   * The next `count` status writes lose a race: just before each is handled, the object changes
   * (a label), so the write carries a stale resourceVersion and gets 409 Conflict, as when
   * someone else wrote between the writer's read and its write.
   */
  conflictNextStatusWrites(count: number): void {
    this.racedStatusWrites = count;
  }

  /** Drops every watch connection without ending the stream (a network failure). */
  dropWatches(): void {
    for (const watch of [...this.watches]) {
      watch.end();
      watch.response.socket?.destroy();
    }
  }

  /** Stores a new version: next resourceVersion, generation bumped when the spec changed. */
  private store(info: KindInfo, key: string, before: KubeObject, next: KubeObject): KubeObject {
    const generation = Number(before.metadata["generation"] ?? 1);
    next.metadata = {
      ...next.metadata,
      uid: before.metadata.uid,
      resourceVersion: String(++this.revision),
      generation: specOf(before) === specOf(next) ? generation : generation + 1,
    };
    this.objects.set(key, { info, object: next });
    this.record("MODIFIED", info, next, before);
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
    const limit = this.options.historyLimit;
    if (limit !== undefined && this.history.length > limit) {
      this.history.splice(0, this.history.length - limit);
      this.oldestWatchable = this.history[0]!.rv;
    }
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
    const target = this.targetOf(url.pathname);
    if (request.method !== "GET" || target?.name !== undefined) {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const [status, body] = this.write1(request.method ?? "GET", target, chunks);
        if (request.method !== "GET") {
          this.writes.push({ method: request.method ?? "", path: url.pathname, status });
        }
        json(status, body);
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

  /** The kind, namespace, name and subresource a path names, when it names a served kind. */
  private targetOf(path: string): Target | undefined {
    const match = /^\/api\/v1(\/.*)?$/.exec(path) ?? /^\/apis\/([^/]+\/[^/]+)(\/.*)?$/.exec(path);
    if (!match) return undefined;
    const apiVersion = path.startsWith("/api/") ? "v1" : match[1]!;
    const rest = (path.startsWith("/api/") ? match[1] : match[2]) ?? "";
    let segments = rest.split("/").filter(Boolean);
    let namespace: string | undefined;
    if (segments[0] === "namespaces" && segments.length >= 3) {
      namespace = segments[1];
      segments = segments.slice(2);
    }
    const [plural, name, subresource] = segments;
    const info = this.kinds.find((k) => k.apiVersion === apiVersion && k.plural === plural);
    if (!info || segments.length > 3) return undefined;
    return {
      info,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(subresource !== undefined ? { subresource } : {}),
    };
  }

  /** GET of one object, POST, PUT and PATCH: [status code, body]. */
  private write1(method: string, target: Target | undefined, chunks: Buffer[]): [number, unknown] {
    if (!target) return [404, failure(404, "NotFound", "no such resource")];
    const { info, namespace, name, subresource } = target;
    if (subresource !== undefined && (subresource !== "status" || !info.statusSubresource)) {
      return [404, failure(404, "NotFound", `no subresource ${subresource}`)];
    }
    let body: KubeObject | undefined;
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as KubeObject;
      } catch {
        return [400, failure(400, "BadRequest", "invalid JSON")];
      }
    }
    if (method === "POST") {
      if (name !== undefined || !body?.metadata?.name) {
        return [400, failure(400, "BadRequest", "POST to a collection with metadata.name")];
      }
      const key = this.keyOf(info, namespace, body.metadata.name);
      if (this.objects.has(key)) {
        return [
          409,
          failure(409, "AlreadyExists", `${info.plural} "${body.metadata.name}" already exists`),
        ];
      }
      const { status: _ignored, ...rest } = body;
      const fresh = info.statusSubresource ? rest : body;
      const metadata = { ...body.metadata, ...(namespace ? { namespace } : {}) };
      return [
        201,
        this.create({
          ...fresh,
          apiVersion: info.apiVersion,
          kind: info.kind,
          metadata,
        } as KubeObject),
      ];
    }
    if (name === undefined) return [405, failure(405, "MethodNotAllowed", method)];
    const key = this.keyOf(info, namespace, name);
    if (subresource === "status" && method !== "GET" && this.racedStatusWrites > 0) {
      this.racedStatusWrites--;
      const raced = this.objects.get(key);
      if (raced) {
        const labels = { ...raced.object.metadata.labels, "stand-in/raced": String(this.revision) };
        this.store(info, key, raced.object, {
          ...structuredClone(raced.object),
          metadata: { ...raced.object.metadata, labels },
        });
      }
    }
    const current = this.objects.get(key);
    if (!current) return [404, failure(404, "NotFound", `${info.plural} "${name}" not found`)];
    if (method === "GET") return [200, current.object];
    if (!body) return [400, failure(400, "BadRequest", "a body is required")];
    const asked = body.metadata?.resourceVersion;
    if (asked !== undefined && asked !== current.object.metadata.resourceVersion) {
      return [
        409,
        failure(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${info.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        ),
      ];
    }
    if (method === "PUT" && asked === undefined && info.statusSubresource) {
      return [
        422,
        failure(422, "Invalid", "metadata.resourceVersion: must be specified for an update"),
      ];
    }
    const before = current.object;
    let next: KubeObject;
    if (subresource === "status") {
      const status =
        method === "PATCH"
          ? mergePatch(before["status"], body["status"])
          : (body["status"] as unknown);
      next = { ...structuredClone(before), status } as KubeObject;
      if (status === undefined) delete next["status"];
    } else if (method === "PUT") {
      next = {
        ...body,
        apiVersion: info.apiVersion,
        kind: info.kind,
        metadata: { ...body.metadata, name, ...(namespace ? { namespace } : {}) },
      } as KubeObject;
      if (info.statusSubresource) {
        if (before["status"] === undefined) delete next["status"];
        else next["status"] = before["status"];
      }
    } else if (method === "PATCH") {
      next = mergePatch(before, body) as KubeObject;
      if (info.statusSubresource) next["status"] = before["status"];
    } else {
      return [405, failure(405, "MethodNotAllowed", method)];
    }
    return [200, this.store(info, key, before, next)];
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

interface Target {
  readonly info: KindInfo;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource?: string;
}

function failure(code: number, reason: string, message: string) {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    reason,
    message,
    code,
  };
}

/** What generation follows: everything but metadata and status. */
function specOf(object: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = object;
  return JSON.stringify(rest);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
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
