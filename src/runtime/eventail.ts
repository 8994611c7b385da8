import type { FastifyInstance } from "fastify";
import type { Backing, BackingConfig } from "../backing/backing.js";
import { createBacking } from "../backing/registry.js";
import { Dispatcher } from "../delivery/dispatcher.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { formatIssue, type ValidationIssue } from "../resources/issue.js";
import type { AddressStatus } from "../resources/status.js";
import { ResourceStore } from "../resources/store.js";
import type { Resource } from "../resources/types.js";
import { watchManifests } from "../resources/watch.js";
import { defaultStateDir } from "../security/key-store.js";
import { Security } from "../security/security.js";
import { buildServer } from "../server/app.js";
import { addressables, addressStatusOf, subjectsOf } from "./addressables.js";
import { readConfiguration } from "./configuration-reader.js";
import { Reconciler } from "./reconciler.js";

export interface EventailOptions {
  /** Manifest files or folders (eventail run -f). */
  paths?: string[];
  /** Resources given directly (tests), instead of or in addition to paths. */
  resources?: Resource[];
  host?: string;
  port?: number;
  logger?: Logger;
  /** Re-read the files when they change (default true when paths are given). */
  watch?: boolean;
  maxInFlight?: number;
  drainMs?: number;
  createBacking?: (config: BackingConfig, logger: Logger) => Promise<Backing>;
  /** `--public-url`: the issuer of Eventail's tokens and the base of addresses in status. */
  publicUrl?: string;
  /** Where a generated signing key is kept; default `$EVENTAIL_STATE_DIR`, else `.eventail/`. */
  stateDir?: string;
  /** External OIDC issuers' least time between two key fetches (default 30 s). */
  issuerRefetchIntervalMs?: number;
}

export interface RunningEventail {
  /** Base URL of the HTTP surface, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  readonly app: FastifyInstance;
  readonly store: ResourceStore;
  readonly reconciler: Reconciler;
  readonly metrics: Metrics;
  /** CONTRACT §10: feature flags, issuer, verification, EventPolicies, delivery tokens. */
  readonly security: Security;
  /** `status.address` (url and audience) of a resource, a flow's channels included. */
  addressOf(kind: string, namespace: string, name: string): AddressStatus | undefined;
  /** Re-reads the manifests; keeps the running config when they are invalid. */
  reload(): Promise<ValidationIssue[]>;
  /** Replaces the resources directly (tests). */
  apply(resources: Resource[]): Promise<ValidationIssue[]>;
  /** Stops ingress, drains in-flight deliveries up to drainMs, disconnects. */
  close(): Promise<void>;
}

export class InvalidManifestsError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(`${issues.length} problem(s) in the manifests:\n${issues.map(formatIssue).join("\n")}`);
    this.name = "InvalidManifestsError";
  }
}

/** Starts a whole Eventail: store, reconciler, dispatcher, HTTP surface, file watching. */
export async function startEventail(options: EventailOptions): Promise<RunningEventail> {
  const logger = options.logger ?? createLogger();
  const paths = options.paths ?? [];
  const initial = await readConfiguration(paths, options.resources ?? []);
  if (initial.issues.length > 0) throw new InvalidManifestsError(initial.issues);

  const metrics = new Metrics({ processMetrics: true });
  const store = new ResourceStore();
  store.replaceAll(initial.resources);
  const security = new Security({
    logger,
    stateDir: options.stateDir ?? defaultStateDir(),
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    ...(options.issuerRefetchIntervalMs !== undefined
      ? { refetchIntervalMs: options.issuerRefetchIntervalMs }
      : {}),
  });
  /** Security follows the store ahead of the reconciler, so no address is served unguarded. */
  const secure = () => {
    const resources = store.all();
    security.configure({
      resources,
      addressables: addressables(resources, security.baseUrl),
      subjectsOf: subjectsOf(resources),
    });
  };
  secure();
  const reconfigure = () => {
    try {
      secure();
    } catch (error) {
      logger.error({ reason: (error as Error).message }, "security configuration failed");
    }
  };
  store.on("changes", reconfigure);
  const dispatcher = new Dispatcher({
    metrics,
    logger,
    credentials: (sender, url) => security.authorization(sender, url),
  });
  const makeBacking =
    options.createBacking ?? ((config, log) => createBacking(config, { logger: log }));
  const reconciler = new Reconciler({
    store,
    dispatcher,
    logger,
    metrics,
    createBacking: (config) => makeBacking(config, logger),
    ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
  });
  const app = buildServer({
    dataPlane: reconciler,
    metrics,
    logger,
    security,
    ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
  });
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 8080 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 8080);
  const selfHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${selfHost.includes(":") ? `[${selfHost}]` : selfHost}:${port}`;
  security.setServerUrl(url);
  secure();
  await reconciler.start(url);

  const apply = async (resources: Resource[]): Promise<ValidationIssue[]> => {
    const next = await readConfiguration([], resources);
    if (next.issues.length === 0) {
      store.replaceAll(next.resources);
      await reconciler.idle();
    }
    return next.issues;
  };

  const reload = async (): Promise<ValidationIssue[]> => {
    const next = await readConfiguration(paths, options.resources ?? []);
    if (next.issues.length > 0) {
      for (const issue of next.issues)
        logger.error({ issue: formatIssue(issue) }, "invalid manifest");
      logger.warn({ problems: next.issues.length }, "reload refused: keeping the running config");
      return next.issues;
    }
    store.replaceAll(next.resources);
    // Unchanged manifests emit no change: a key added to the state dir is read here (SIGHUP).
    reconfigure();
    await reconciler.idle();
    logger.info({ resources: next.resources.length }, "manifests reloaded");
    return [];
  };

  const watcher =
    paths.length > 0 && options.watch !== false
      ? watchManifests(paths, () => {
          void reload();
        })
      : undefined;

  logger.info({ url, resources: initial.resources.length }, "eventail is serving");

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      watcher?.close();
      // Ingress answers 503 from now on, but the server stays up while triggers drain: their
      // subscribers may be this process's own sinks, brokers and channels.
      reconciler.stopAccepting();
      await reconciler.close(options.drainMs);
      await app.close();
      await dispatcher.close();
    })();
    return closing;
  };

  const addressOf = (kind: string, namespace: string, name: string) =>
    addressStatusOf(store.all(), security.baseUrl, kind, namespace, name);

  return { url, app, store, reconciler, metrics, security, addressOf, reload, apply, close };
}
