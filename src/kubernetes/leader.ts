/**
 * Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
 * the leader renews the Lease every `renewMs`; another replica takes it over once it has seen the
 * same holder and renewTime unchanged for `leaseDurationSeconds` (measured on its own clock, so
 * clock skew between nodes does not matter). Every write carries the resourceVersion read, so of
 * two replicas racing for an expired Lease one gets 409 and stays a follower. A leader that has
 * not renewed for two thirds of the lease (client-go's RenewDeadline to LeaseDuration, 10 s to
 * 15 s) steps down, so what only the leader runs has stopped before another replica may take over
 * (those timing rules are LeaseElection's, shared with `eventail run`'s engine leases).
 */
import type { Logger } from "../observability/logger.js";
import { type ElectionLease, LeaseElection } from "../runtime/lease-election.js";
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

/**
 * The Lease as an ElectionLease: acquire or renew with a write on the resourceVersion read, and
 * expiry judged by this replica's own clock from when it first saw the holder's last renewal.
 */
class KubeLease implements ElectionLease {
  /** The holder and renewTime last seen, and when (local clock) they were first seen. */
  private observed: { key: string; at: number } | undefined;
  private readonly path: string;

  constructor(private readonly options: LeaderElectionOptions) {
    this.path = objectPath(LEASE.apiVersion, LEASE.plural, options.namespace, options.name);
  }

  get holder(): string {
    return this.options.identity;
  }

  /** Empties the Lease when this replica holds it, so another need not wait it out. */
  async release(): Promise<void> {
    const lease = await this.options.rest.get(this.path);
    const spec = (lease["spec"] ?? {}) as LeaseSpec;
    if (spec.holderIdentity === this.options.identity) {
      await this.options.rest.replace(this.path, {
        ...lease,
        spec: { ...spec, holderIdentity: "", leaseDurationSeconds: 1 },
      });
    }
  }

  async tryAcquireOrRenew(): Promise<boolean> {
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
}

/** The controller's election on its Lease, with LeaseElection's timing rules. */
export class LeaderElection {
  private readonly election: LeaseElection;

  constructor(options: LeaderElectionOptions) {
    this.election = new LeaseElection({
      lease: new KubeLease(options),
      termMs: options.leaseDurationSeconds * 1000,
      ...(options.renewMs !== undefined ? { renewMs: options.renewMs } : {}),
      logger: options.logger,
      onChange: options.onChange,
    });
  }

  get isLeader(): boolean {
    return this.election.isLeader;
  }

  start(): void {
    void this.election.start();
  }

  /** Stops taking part; `release` empties the Lease so another replica need not wait it out. */
  stop(release = true): Promise<void> {
    return this.election.stop(release);
  }
}
