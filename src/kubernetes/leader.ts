/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * the leader renews the Lease every `renewMs`; another replica takes it over once it has seen the
 * same holder and renewTime unchanged for `leaseDurationSeconds` (measured on its own clock, so
 * clock skew between nodes does not matter). Every write carries the resourceVersion read, so of
 * two replicas racing for an expired Lease one gets 409 and stays a follower. A leader that has
 * not renewed for two thirds of the lease (client-go's RenewDeadline to LeaseDuration, 10 s to
 * 15 s) steps down, so what only the leader runs has stopped before another replica may take over.
 */
import type { Logger } from "../observability/logger.js";
import { LEASE } from "./kinds.js";
import { collectionPath, isStatus, type KubeJson, type KubeRest, objectPath } from "./kube-rest.js";

export interface LeaderElectionOptions {
  readonly rest: KubeRest;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  /** How often the leader renews and a follower checks (default a third of the lease; keep it below two thirds). */
  readonly renewMs?: number;
  readonly logger: Logger;
  readonly onChange: (leader: boolean) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

/** MicroTime, as the API server writes it (RFC 3339 with six fractional digits). */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElection {
  private leader = false;
  private timer: NodeJS.Timeout | undefined;
  /** Fires when the leader has gone the renew deadline without renewing. */
  private deadline: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The holder and renewTime last seen, and when (local clock) they were first seen. */
  private observed: { key: string; at: number } | undefined;
  private readonly path: string;

  constructor(private readonly options: LeaderElectionOptions) {
    this.path = objectPath(LEASE.apiVersion, LEASE.plural, options.namespace, options.name);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    void this.tick();
  }

  /** Stops taking part; `release` empties the Lease so another replica need not wait it out. */
  async stop(release = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    clearTimeout(this.deadline);
    const wasLeader = this.leader;
    // Step down before handing the Lease back: the next leader must not overlap this one.
    this.setLeader(false);
    if (wasLeader && release) {
      try {
        const lease = await this.options.rest.get(this.path);
        const spec = (lease["spec"] ?? {}) as LeaseSpec;
        if (spec.holderIdentity === this.options.identity) {
          await this.options.rest.replace(this.path, {
            ...lease,
            spec: { ...spec, holderIdentity: "", leaseDurationSeconds: 1 },
          });
        }
      } catch (error) {
        this.options.logger.warn({ reason: (error as Error).message }, "lease release failed");
      }
    }
  }

  private get renewDeadlineMs(): number {
    return (this.options.leaseDurationSeconds * 1000 * 2) / 3;
  }

  private get renewMs(): number {
    return this.options.renewMs ?? Math.max(200, (this.options.leaseDurationSeconds * 1000) / 3);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    // The renewal is written after this instant, and another replica counts the lease from
    // when it sees that write: counting the deadline from here leaves a third of the lease spare.
    const asked = Date.now();
    try {
      let leader = await this.tryAcquireOrRenew();
      if (this.stopped) return;
      clearTimeout(this.deadline);
      // A timer rather than a check per tick: a request that hangs must not keep this replica
      // leading past the moment another one may take over.
      const left = this.renewDeadlineMs - (Date.now() - asked);
      if (leader && left > 0) {
        this.deadline = setTimeout(() => this.setLeader(false), left);
        this.deadline.unref();
      } else leader = false;
      this.setLeader(leader);
    } catch (error) {
      // The deadline armed at the last renewal steps a leader that cannot renew down.
      this.options.logger.warn({ reason: (error as Error).message }, "lease check failed");
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.renewMs);
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { rest, identity, namespace, name, leaseDurationSeconds } = this.options;
    const now = new Date();
    const mine: LeaseSpec = {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: 0,
    };
    let lease: KubeJson;
    try {
      lease = await rest.get(this.path);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
      try {
        await rest.create(collectionPath(LEASE.apiVersion, LEASE.plural, namespace), {
          apiVersion: LEASE.apiVersion,
          kind: "Lease",
          metadata: { name, namespace },
          spec: mine,
        });
        return true;
      } catch (raced) {
        if (isStatus(raced, 409)) return false;
        throw raced;
      }
    }
    const spec = (lease["spec"] ?? {}) as LeaseSpec;
    const holder = spec.holderIdentity ?? "";
    const key = `${holder}|${spec.renewTime ?? ""}`;
    if (this.observed?.key !== key) this.observed = { key, at: Date.now() };
    const duration = (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000;
    const expired = holder === "" || Date.now() - this.observed.at >= duration;
    if (holder !== identity && !expired) return false;
    const next: LeaseSpec =
      holder === identity
        ? { ...spec, renewTime: microTime(now), leaseDurationSeconds }
        : { ...mine, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 };
    try {
      await rest.replace(this.path, { ...lease, spec: next });
    } catch (error) {
      if (isStatus(error, 409)) return false;
      throw error;
    }
    return true;
  }

  private setLeader(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.options.logger.info(
      { identity: this.options.identity, leader },
      leader ? "became leader" : "no longer leader",
    );
    this.options.onChange(leader);
  }
}
