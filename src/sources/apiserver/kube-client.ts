import http from "node:http";
import https from "node:https";
import { KubeConfig, Watch } from "@kubernetes/client-node";

import { APISERVER_URL_ANNOTATION, KUBECONFIG_ANNOTATION } from "./annotations.js";

export { APISERVER_URL_ANNOTATION, KUBECONFIG_ANNOTATION };

/**
 * Which cluster to talk to: `eventail.io/apiserver-url` (no credentials, e.g. `kubectl proxy`),
 * else `eventail.io/kubeconfig` (a kubeconfig file), else what kubectl would use: KUBECONFIG,
 * ~/.kube/config, or the in-cluster service account.
 */
export function loadKubeConfig(annotations: Readonly<Record<string, string>> = {}): KubeConfig {
  const config = new KubeConfig();
  const url = annotations[APISERVER_URL_ANNOTATION];
  const file = annotations[KUBECONFIG_ANNOTATION];
  if (url !== undefined) {
    const server = url.replace(/\/+$/, "");
    // client-node refuses plain http unless told TLS is not verified, which http has none of.
    const skipTLSVerify = server.startsWith("http:");
    config.loadFromClusterAndUser(
      { name: "eventail", server, skipTLSVerify },
      { name: "eventail" },
    );
  } else if (file !== undefined) {
    config.loadFromFile(file);
  } else {
    config.loadFromDefault();
  }
  return config;
}

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

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** The two calls list+watch needs: a JSON GET and a watch stream, with the kubeconfig's auth. */
export class KubeClient {
  readonly server: string;
  private readonly watcher: Watch;

  constructor(private readonly config: KubeConfig) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error("the kubeconfig names no current cluster");
    this.server = cluster.server;
    this.watcher = new Watch(config);
  }

  async getJson(
    path: string,
    query: Readonly<Record<string, string | undefined>>,
    signal: AbortSignal,
  ): Promise<unknown> {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const options: https.RequestOptions = {
      method: "GET",
      headers: { accept: "application/json" },
      signal,
    };
    await this.config.applyToHTTPSOptions(options);
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
            reject(
              new KubeApiError(`GET ${path} answered ${status}: ${text.slice(0, 200)}`, status),
            );
            return;
          }
          try {
            resolve(JSON.parse(text));
          } catch (error) {
            reject(new KubeApiError(`GET ${path} answered invalid JSON: ${error}`, status));
          }
        });
      });
      request.on("error", reject);
      request.end();
    });
  }

  /**
   * Streams watch events to `onEvent` until the server ends the stream (resolves) or it fails
   * (rejects; a 410 answered as HTTP status rejects with status 410). Aborting `signal` ends it.
   * `onOpen` runs once the server accepted the watch.
   */
  async watch(
    path: string,
    query: Readonly<Record<string, string | number | boolean | undefined>>,
    onEvent: (type: WatchEventType, object: Record<string, unknown>) => void,
    signal: AbortSignal,
    onOpen?: () => void,
  ): Promise<void> {
    let controller: AbortController | undefined;
    const stop = () => controller?.abort();
    return new Promise<void>((resolve, reject) => {
      const done = (error: unknown) => {
        signal.removeEventListener("abort", stop);
        if (error === null || error === undefined || signal.aborted) resolve();
        else {
          const status = (error as { statusCode?: number }).statusCode;
          reject(
            new KubeApiError(`watch ${path} failed: ${(error as Error).message ?? error}`, status),
          );
        }
      };
      this.watcher
        .watch(path, query, (type, object) => onEvent(type as WatchEventType, object), done)
        .then((started) => {
          controller = started;
          onOpen?.();
          if (signal.aborted) started.abort();
          else signal.addEventListener("abort", stop, { once: true });
        }, done);
    });
  }
}
