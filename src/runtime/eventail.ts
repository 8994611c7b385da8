import type { FastifyInstance } from "fastify";
import type { Backing, BackingConfig } from "../backing/backing.js";
import { createBacking } from "../backing/registry.js";
import { Dispatcher } from "../delivery/dispatcher.js";
import { createLogger, type Logger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";
import { DEFAULT_DEAD_LETTER_SIZE, DeadLetters } from "../operations/dead-letters.js";
import { EventTypeRegistry } from "../operations/event-types.js";
import { DEFAULT_JOURNEY_SIZE, Journeys } from "../operations/journeys.js";
import { ReplayService } from "../operations/replay.js";
import { TailBus } from "../operations/tail-bus.js";
import { resolveDestination } from "../resources/addresses.js";
import { formatIssue, type ValidationIssue } from "../resources/issue.js";
import type { ServiceFlags } from "../resources/services.js";
import { type AddressStatus, addressStatus } from "../resources/status.js";
import { ResourceStore } from "../resources/store.js";
import type { Resource } from "../resources/types.js";
import { watchManifests } from "../resources/watch.js";
import { defaultStateDir } from "../security/key-store.js";
import { Security } from "../security/security.js";
import { transportEncryptionOf } from "../security/tls-features.js";
import { certificateFields, TlsFiles } from "../security/tls-files.js";
import { TransportTrust } from "../security/tls-trust.js";
import { buildServer } from "../server/app.js";
import { defaultConsoleDir } from "../server/console-routes.js";
import { type ConnectionLimits, replaceCertificate } from "../server/listener.js";
import { addressables, addressStatusOf, subjectsOf } from "./addressables.js";
import type { Configuration } from "./configuration.js";
import { readConfiguration } from "./configuration-reader.js";
import { InvalidManifestsError } from "./invalid-manifests.js";
import { FileLeadership } from "./leadership.js";
import { Reconciler } from "./reconciler.js";
import { StatusBook } from "./status-book.js";

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
  /** --tls-cert/--tls-key: serve HTTPS, re-reading the files when they change (unless watch is false). */
  tls?: { certFile: string; keyFile: string };
  /** --header-timeout, --body-timeout, --max-connections (CONTRACT §10). */
  limits?: Partial<ConnectionLimits>;
  /** `--service NS/NAME=URL` mappings: where refs to those Services go (CONTRACT §2). */
  services?: ServiceFlags;
  /** `--public-url`: the issuer of Eventail's tokens and the base of addresses in status. */
  publicUrl?: string;
  /** Where a generated signing key is kept; default `$EVENTAIL_STATE_DIR`, else `.eventail/`. */
  stateDir?: string;
  /** External OIDC issuers' least time between two key fetches (default 30 s). */
  issuerRefetchIntervalMs?: number;
  /** The only namespace whose `eventail-signing-key` Secret counts (the controller's own). */
  signingKeyNamespace?: string;
  /** `--journey-size`: events whose journey this process keeps in memory; 0 turns journeys off. */
  journeySize?: number;
  /** `--dead-letter-size`: dead letters kept per namespace in memory (default 10,000). */
  deadLetterSize?: number;
  /** The built web console served at /ui/ (default: dist/console next to the server). */
  consoleDir?: string;
  /**
   * Whether sources that emit by themselves run from the start (default true); the Kubernetes
   * controller starts with false and switches it with leadership (reconciler.setSelfEmittingSources).
   */
  selfEmittingSources?: boolean;
  /**
   * `eventail run`: share the sources that emit by themselves with the other processes on the
   * configuration's durable engine, through the lease `name` with a term of `termMs` kept there
   * (leadership.ts). Overrides selfEmittingSources.
   */
  lease?: { readonly name?: string; readonly termMs: number };
  /**
   * The first read of `paths`, already under way: `eventail run` starts it before it loads this
   * module, so the configuration worker parses and validates while the server's modules load.
   */
  initial?: Promise<Configuration>;
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
  /** CONTRACT §11: where each accepted event went. */
  readonly journeys: Journeys;
  /** Every resource's Knative status (CONTRACT §11). */
  readonly statuses: StatusBook;
  /** CONTRACT §11: the live tail's bus (its readers, for tests and diagnostics). */
  readonly tail: TailBus;
  /** CONTRACT §11: the dead-letter store. */
  readonly deadLetters: DeadLetters;
  /** CONTRACT §11: declared and auto-created EventTypes, and the ingress schema check. */
  readonly eventTypes: EventTypeRegistry;
  /** `status.address` (url and audience) of a resource, a flow's channels included. */
  addressOf(kind: string, namespace: string, name: string): AddressStatus | undefined;
  /** Re-reads the manifests; keeps the running config when they are invalid. */
  reload(): Promise<ValidationIssue[]>;
  /** Replaces the resources directly (tests). */
  apply(resources: Resource[]): Promise<ValidationIssue[]>;
  /** Stops ingress, drains in-flight deliveries up to drainMs, disconnects. */
  close(): Promise<void>;
}

export { InvalidManifestsError };

/** Starts a whole Eventail: store, reconciler, dispatcher, HTTP surface, file watching. */
export async function startEventail(options: EventailOptions): Promise<RunningEventail> {
  const logger = options.logger ?? createLogger();
  const paths = options.paths ?? [];
  const { services } = options;
  const initial = await (options.initial ??
    readConfiguration(paths, options.resources ?? [], services));
  if (initial.issues.length > 0) throw new InvalidManifestsError(initial.issues);
  logWarnings(logger, initial.warnings);
  const refusal = strictWithoutTls(initial.resources, options.tls !== undefined);
  if (refusal !== undefined) throw new Error(refusal);
  const tlsFiles = options.tls
    ? TlsFiles.load(options.tls.certFile, options.tls.keyFile)
    : undefined;

  const metrics = new Metrics({ processMetrics: true });
  const store = new ResourceStore();
  store.replaceAll(initial.resources);
  const trust = new TransportTrust(resolveDestination);
  trust.setOwnCertificate(tlsFiles?.current.cert);
  const security = new Security({
    logger,
    stateDir: options.stateDir ?? defaultStateDir(),
    ...(options.publicUrl !== undefined ? { publicUrl: options.publicUrl } : {}),
    ...(options.issuerRefetchIntervalMs !== undefined
      ? { refetchIntervalMs: options.issuerRefetchIntervalMs }
      : {}),
    ...(options.signingKeyNamespace !== undefined
      ? { signingKeyNamespace: options.signingKeyNamespace }
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
  const journeys = new Journeys(options.journeySize ?? DEFAULT_JOURNEY_SIZE, logger);
  journeys.configure(store.all());
  store.on("changes", () => journeys.configure(store.all()));
  const eventTypes = new EventTypeRegistry({ logger });
  eventTypes.configure(store.all());
  store.on("changes", () => eventTypes.configure(store.all()));
  const dispatcher = new Dispatcher({
    metrics,
    logger,
    transport: trust,
    credentials: (sender, url) => security.authorization(sender, url),
  });
  const makeBacking =
    options.createBacking ?? ((config, log) => createBacking(config, { logger: log }));
  const tail = new TailBus();
  const deadLetters = new DeadLetters(
    options.deadLetterSize ?? DEFAULT_DEAD_LETTER_SIZE,
    metrics,
    logger,
  );
  let statuses: StatusBook | undefined;
  const reconciler = new Reconciler({
    onReconciled: () => statuses?.observe(),
    tail,
    deadLetters,
    store,
    dispatcher,
    logger,
    metrics,
    createBacking: (config) => makeBacking(config, logger),
    ...(services ? { services } : {}),
    ...(options.drainMs !== undefined ? { drainMs: options.drainMs } : {}),
    ...(options.lease !== undefined
      ? { selfEmittingSources: false }
      : options.selfEmittingSources !== undefined
        ? { selfEmittingSources: options.selfEmittingSources }
        : {}),
    ...(journeys.enabled ? { journeys } : {}),
    eventTypes,
    authorizeReply: (namespace, trigger, broker, events) =>
      security.authorizeReply(namespace, trigger, broker, events),
  });
  const leadership =
    options.lease === undefined
      ? undefined
      : new FileLeadership({
          store,
          ...options.lease,
          logger,
          // Off stops them at once; on starts them with the next reconcile (the first one, when
          // the lease is won at start-up).
          onChange: (leader) => {
            reconciler
              .setSelfEmittingSources(leader)
              .catch((error: unknown) =>
                logger.error({ reason: (error as Error).message }, "switching sources failed"),
              );
          },
        });
  // Tried while the server starts; the sources start with the reconcile that winning it queues.
  // Not awaited: until the first reconcile registers them, the ingress paths would answer 404
  // (an engine that is away must show as 503 from the first request on).
  void leadership?.follow();
  if (leadership) store.on("changes", () => void leadership.follow());
  deadLetters.setRedeliver((namespace, entry, to) =>
    reconciler.redriveDeadLetter(namespace, entry, to),
  );
  deadLetters.setFromBroker({
    broker: (namespace, name) => reconciler.replayTarget(namespace, name),
    send: (namespace, event, url) => reconciler.sendOnce(namespace, event, url, "redrive"),
    deliversTo: (namespace, url) => reconciler.deliversTo(namespace, url),
    logger,
  });
  const replay = new ReplayService({
    logger,
    target: (namespace, broker) => reconciler.replayTarget(namespace, broker),
    stores: () => reconciler.replayStores(),
  });
  statuses = new StatusBook(
    reconciler.statusSource((resource) => addressStatus(resource, security.baseUrl)),
  );
  const app = buildServer({
    api: {
      guard: security,
      resources: statuses,
      tail: { bus: tail },
      deadLetters,
      eventTypes,
      replay,
      ...(journeys.enabled ? { journeys } : {}),
    },
    console: { root: options.consoleDir ?? defaultConsoleDir() },
    dataPlane: reconciler,
    metrics,
    logger,
    security,
    ...(options.maxInFlight !== undefined ? { maxInFlight: options.maxInFlight } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(tlsFiles ? { tls: tlsFiles.current } : {}),
  });
  const host = options.host ?? "127.0.0.1";
  await app.listen({ host, port: options.port ?? 8080 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? 8080);
  const selfHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const scheme = tlsFiles ? "https" : "http";
  const url = `${scheme}://${selfHost.includes(":") ? `[${selfHost}]` : selfHost}:${port}`;
  const unfollow = trust.follow(store, url);
  security.setServerUrl(url);
  journeys.setBaseUrl(security.baseUrl);
  secure();
  await reconciler.start(url);

  /** A new certificate: new connections get it, and deliveries to Eventail itself trust it. */
  const useCertificate = (pair: { cert: string; key: string }) => {
    replaceCertificate(app.server, pair);
    trust.setOwnCertificate(pair.cert);
  };
  const rereadTls = () => {
    if (!tlsFiles) return;
    try {
      if (!tlsFiles.reread()) return;
    } catch (error) {
      logger.warn(
        { reason: (error as Error).message },
        "TLS files cannot serve; keeping the current certificate",
      );
      return;
    }
    logger.info(certificateFields(tlsFiles.current.cert), "TLS certificate reloaded");
    useCertificate(tlsFiles.current);
  };

  const apply = async (resources: Resource[]): Promise<ValidationIssue[]> => {
    const next = await readConfiguration([], resources, services);
    const refused = strictWithoutTls(next.resources, tlsFiles !== undefined);
    if (refused !== undefined && next.issues.length === 0) throw new Error(refused);
    if (next.issues.length === 0) {
      store.replaceAll(next.resources);
      await reconciler.idle();
    }
    return next.issues;
  };

  const reload = async (): Promise<ValidationIssue[]> => {
    rereadTls();
    const next = await readConfiguration(paths, options.resources ?? [], services);
    const refused = strictWithoutTls(next.resources, tlsFiles !== undefined);
    if (refused !== undefined && next.issues.length === 0) {
      logger.error({ reason: refused }, "reload refused: keeping the running config");
      return [];
    }
    if (next.issues.length > 0) {
      for (const issue of next.issues)
        logger.error({ issue: formatIssue(issue) }, "invalid manifest");
      logger.warn({ problems: next.issues.length }, "reload refused: keeping the running config");
      return next.issues;
    }
    logWarnings(logger, next.warnings);
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

  const tlsWatcher =
    tlsFiles && options.watch !== false ? tlsFiles.watch(useCertificate, logger) : undefined;

  logger.info(
    {
      url,
      resources: initial.resources.length,
      transportEncryption: trust.transportEncryption,
      ...(tlsFiles ? { certificate: certificateFields(tlsFiles.current.cert) } : {}),
    },
    "eventail is serving",
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      watcher?.close();
      tlsWatcher?.close();
      unfollow();
      // Sources stop and the lease goes back before draining, so another process takes over.
      await leadership?.close();
      // Ingress answers 503 from now on, but the server stays up while triggers drain: their
      // subscribers may be this process's own sinks, brokers and channels.
      reconciler.stopAccepting();
      // The registry's last flush goes to the engine, so it runs before the backings close.
      await reconciler.close(options.drainMs, () => eventTypes.close());
      await app.close();
      await dispatcher.close();
    })();
    return closing;
  };

  const addressOf = (kind: string, namespace: string, name: string) =>
    addressStatusOf(store.all(), security.baseUrl, kind, namespace, name);

  return {
    url,
    app,
    store,
    reconciler,
    metrics,
    security,
    journeys,
    tail,
    deadLetters,
    eventTypes,
    statuses,
    addressOf,
    reload,
    apply,
    close,
  };
}

/**
 * Why `transport-encryption: strict` cannot run (no certificate to serve HTTPS with), or
 * undefined when it can.
 */
function strictWithoutTls(resources: readonly Resource[], tls: boolean): string | undefined {
  if (tls || transportEncryptionOf(resources) !== "strict") return undefined;
  return (
    "config-features (namespace knative-eventing) sets transport-encryption: strict, " +
    "which needs HTTPS: start with --tls-cert and --tls-key"
  );
}

/** What runs, but not as on a cluster (a cluster address, a binding with no process): said once per load. */
function logWarnings(logger: Logger, warnings: readonly ValidationIssue[]): void {
  for (const warning of warnings) logger.warn({ issue: formatIssue(warning) }, warning.message);
}
