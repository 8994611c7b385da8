/**
 * File mode's leadership: several `eventail run` processes on one configuration share its durable
 * engine, and only one of them may run the sources that emit by themselves (a PingSource's tick
 * must reach its sink once, however many processes run). Kubernetes mode has its Lease; here the
 * lease is kept on that shared engine (EngineLease), under one name for the configuration:
 * `eventail.leader` unless `$EVENTAIL_LEASE_NAME` says otherwise. Processes on one engine already
 * share every stream by name (broker.NS.NAME), so an engine serves one configuration; a second
 * deployment on the same engine (other brokers, other sources) names its own lease.
 */
import type { BackingConfig, EngineLease } from "../backing/backing.js";
import { backingKey, createLease } from "../backing/registry.js";
import { CHANNEL_KINDS } from "../channels/channel.js";
import type { Logger } from "../observability/logger.js";
import {
  brokerBacking,
  channelKindBacking,
  holdsYaml,
  type ParseYaml,
} from "../resources/broker-config.js";
import { DEFAULT_CHANNEL_TEMPLATE } from "../resources/defaults.js";
import { secretData } from "../resources/secrets.js";
import type { ResourceStore } from "../resources/store.js";
import type { BrokerSpec, ChannelSpec, Resource, SecretResource } from "../resources/types.js";
import { LeaseElection } from "./lease-election.js";

/** The lease's name unless `$EVENTAIL_LEASE_NAME` gives another (two deployments on one engine). */
export const LEADER_LEASE = "eventail.leader";

/**
 * The durable engine the processes of this configuration share: the one a Broker without
 * `spec.config` gets (`config-br-defaults`), else the first (by its settings) that a Broker or a
 * channel runs on. Undefined when everything is in memory: such a process runs alone.
 */
export async function sharedBacking(store: ResourceStore): Promise<BackingConfig | undefined> {
  const parse: ParseYaml | undefined = holdsYaml(store.list("ConfigMap"))
    ? (await import("yaml")).parse
    : undefined;
  const parseYaml: ParseYaml = (text) => {
    if (!parse) throw new Error("no YAML parser");
    return parse(text);
  };
  const configMaps = (namespace: string, name: string) =>
    store.get("ConfigMap", namespace, name)?.data;
  const lookup = {
    resource: (kind: string, namespace: string, name: string) => store.get(kind, namespace, name),
    secret: (namespace: string, name: string) => {
      const secret = store.get("Secret", namespace, name) as SecretResource | undefined;
      return secret ? secretData(secret) : undefined;
    },
  };
  const ofBroker = (broker: Pick<Resource<BrokerSpec>, "metadata" | "spec">) => {
    try {
      return brokerBacking(broker, configMaps, parseYaml, lookup);
    } catch {
      // A Broker waiting for its ConfigMap runs nowhere yet.
      return undefined;
    }
  };
  const fallback = ofBroker({ metadata: { namespace: "default", name: "" }, spec: {} });
  if (fallback !== undefined && fallback.kind !== "memory") return fallback;
  const used: BackingConfig[] = [];
  for (const broker of store.list("Broker")) {
    const backing = ofBroker(broker as Resource<BrokerSpec>);
    if (backing) used.push(backing);
  }
  for (const kind of ["Channel", ...Object.keys(CHANNEL_KINDS)]) {
    for (const channel of store.list(kind)) {
      const channelKind =
        kind === "Channel"
          ? ((channel.spec as ChannelSpec | undefined)?.channelTemplate?.kind ??
            DEFAULT_CHANNEL_TEMPLATE.kind)
          : kind;
      used.push(channelKindBacking(channelKind, configMaps));
    }
  }
  return used
    .filter((backing) => backing.kind !== "memory")
    .sort((a, b) => backingKey(a).localeCompare(backingKey(b)))[0];
}

/**
 * Keeps this process's leadership on the shared engine, following the configuration: when the
 * engine changes (a reload), leadership on the old one ends before the new one is tried.
 */
export class FileLeadership {
  /**
   * The engine followed, with its election when it keeps a lease. Kept without one too, so a
   * reload that leaves the engine as it was leaves the leader-only sources running.
   */
  private current:
    | { key: string; held?: { lease: EngineLease; election: LeaseElection } }
    | undefined;
  private leader = false;
  private queue: Promise<void> = Promise.resolve();
  private warned = new Set<string>();
  private closed = false;

  constructor(
    private readonly options: {
      readonly store: ResourceStore;
      /** Default LEADER_LEASE. */
      readonly name?: string;
      readonly termMs: number;
      readonly logger: Logger;
      /** Called on every change; starts true only while this process leads. */
      readonly onChange: (leader: boolean) => void;
    },
  ) {}

  /** Whether self-emitting sources may run here now. */
  get isLeader(): boolean {
    return this.leader;
  }

  /** Re-reads the configuration's shared engine; resolves after the first attempt on it. */
  follow(): Promise<void> {
    this.queue = this.queue
      .then(() => this.followOnce())
      .catch((error: unknown) => {
        this.options.logger.error({ reason: (error as Error).message }, "leadership failed");
      });
    return this.queue;
  }

  async close(): Promise<void> {
    this.closed = true;
    // Stopped at once, not after the attempt under way: on a hung engine that lasts a timeout.
    const ending = this.end();
    await this.queue;
    await ending;
    await this.end();
  }

  private async followOnce(): Promise<void> {
    if (this.closed) return;
    const backing = await sharedBacking(this.options.store);
    if (this.closed) return;
    const key = backing === undefined ? "memory" : backingKey(backing);
    if (this.current?.key === key) return;
    await this.end();
    const lease =
      backing === undefined
        ? undefined
        : await createLease(
            backing,
            this.options.name ?? LEADER_LEASE,
            this.options.termMs,
            this.options,
          );
    if (this.closed) {
      await lease?.close().catch(() => undefined);
      return;
    }
    if (lease === undefined) {
      if (backing !== undefined && !this.warned.has(key)) {
        this.warned.add(key);
        this.options.logger.warn(
          { backing: backing.kind },
          "this engine keeps no lease: every process on it runs the sources that emit by themselves (PingSource, ApiServerSource, ContainerSource, IntegrationSource, MQTT), each sending its own events",
        );
      }
      this.current = { key };
      this.set(true);
      return;
    }
    const election = new LeaseElection({
      lease,
      termMs: this.options.termMs,
      logger: this.options.logger,
      onChange: (leader) => this.set(leader),
    });
    this.current = { key, held: { lease, election } };
    await election.start();
  }

  /** Steps down (before the lease is handed back) and leaves the current engine's lease. */
  private async end(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    this.set(false);
    if (!current?.held) return;
    await current.held.election.stop();
    await current.held.lease.close().catch(() => undefined);
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.onChange(leader);
  }
}
