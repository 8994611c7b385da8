/**
 * The JSON calls the controller makes besides list and watch: get one object, create, replace
 * (PUT, optimistic concurrency on metadata.resourceVersion) and the status subresource. Auth comes
 * from the kubeconfig the same way @kubernetes/client-node's own calls get it.
 */
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
/** An API error with the HTTP status (or the watch ERROR event's Status code). */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

export type KubeJson = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
};

const REQUEST_TIMEOUT_MS = 10_000;

export class KubeRest {
  readonly server: string;
  private agent: http.Agent | boolean | undefined;

  constructor(private readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig names no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
  }

  get(path: string, signal?: AbortSignal): Promise<KubeJson> {
    return this.call("GET", path, undefined, signal);
  }

  create(collectionPath: string, body: KubeJson): Promise<KubeJson> {
    return this.call("POST", collectionPath, body);
  }

  replace(path: string, body: KubeJson): Promise<KubeJson> {
    return this.call("PUT", path, body);
  }

  async call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    contentType = "application/json",
  ): Promise<KubeJson> {
    const url = new URL(this.server + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const options: https.RequestOptions = {
      method,
      headers: {
        accept: "application/json",
        ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
      },
      ...(signal ? { signal } : {}),
    };
    await this.config.applyToHTTPSOptions(options);
    // client-node makes a new agent per call; one kept for all calls reuses connections.
    this.agent ??= options.agent;
    options.agent = this.agent;
    const transport = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, options, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = response.statusCode ?? 0;
          if (status < 200 || status > 299) {
            let message = text.slice(0, 300);
            try {
              message = String((JSON.parse(text) as { message?: unknown }).message ?? message);
            } catch {
              // Not a Status object: the raw text says what happened.
            }
            reject(new KubeApiError(`${method} ${path} answered ${status}: ${message}`, status));
            return;
          }
          try {
            resolve(JSON.parse(text) as KubeJson);
          } catch (error) {
            reject(new KubeApiError(`${method} ${path} answered invalid JSON: ${error}`, status));
          }
        });
      });
      request.on("error", reject);
      // A call that never answers must not stall the caller (a Lease renewal above all).
      request.setTimeout(REQUEST_TIMEOUT_MS, () =>
        request.destroy(new KubeApiError(`${method} ${path}: no answer in time`, undefined)),
      );
      request.end(payload);
    });
  }
}

/** The API path of a collection (`namespace` undefined: all namespaces or a cluster-scoped kind). */
export function collectionPath(apiVersion: string, plural: string, namespace?: string): string {
  const prefix = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return namespace === undefined
    ? `${prefix}/${plural}`
    : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
}

export function objectPath(
  apiVersion: string,
  plural: string,
  namespace: string | undefined,
  name: string,
): string {
  return `${collectionPath(apiVersion, plural, namespace)}/${encodeURIComponent(name)}`;
}

export function isStatus(error: unknown, code: number): boolean {
  return error instanceof KubeApiError && error.status === code;
}
