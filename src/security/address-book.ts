/**
 * Every address the data plane serves, with what guarding it needs: its audience and the
 * EventPolicies that apply to it (worked out once per configuration, not per request).
 */
import type { AddressStatus } from "../resources/status.js";
import {
  applyingPolicies,
  type CompiledPolicy,
  internalPolicy,
  type PolicyIdentity,
} from "./event-policy.js";

/** An addressable resource (or one a flow stands for) as the guard sees it. */
export interface Addressable extends PolicyIdentity {
  /** The address's path, e.g. `/channels/default/orders`. */
  readonly path: string;
  readonly address: AddressStatus;
  /**
   * Further identities EventPolicies select it by: a Channel's backing kind; for the first
   * channel of a Sequence or Parallel, the flow (Knative copies the flow's policies onto it).
   */
  readonly alsoSelectedAs?: readonly PolicyIdentity[];
  /**
   * Subjects always allowed: the flow's own subscription feeding a channel inside a Sequence or
   * Parallel (Knative's flow controllers create an EventPolicy saying so).
   */
  readonly internalSenders?: readonly string[];
}

export interface GuardedAddress {
  readonly addressable: Addressable;
  /** The policies that apply, sorted by name; empty means default-authorization-mode decides. */
  readonly policies: readonly CompiledPolicy[];
}

export class AddressBook {
  private readonly byPath = new Map<string, GuardedAddress>();
  private readonly byAudienceUrl = new Map<string, string>();

  constructor(addressables: readonly Addressable[], policies: readonly CompiledPolicy[]) {
    for (const addressable of addressables) {
      const identities = [addressable, ...(addressable.alsoSelectedAs ?? [])];
      const applying = applyingPolicies(policies, identities);
      if (addressable.internalSenders && addressable.internalSenders.length > 0) {
        applying.push(
          internalPolicy(
            `${addressable.name} (internal)`,
            addressable.namespace,
            addressable.internalSenders,
          ),
        );
      }
      this.byPath.set(addressable.path, { addressable, policies: applying });
      this.byAudienceUrl.set(addressable.path, addressable.address.audience);
    }
  }

  get size(): number {
    return this.byPath.size;
  }

  at(path: string): GuardedAddress | undefined {
    return this.byPath.get(path);
  }

  all(): IterableIterator<GuardedAddress> {
    return this.byPath.values();
  }

  /**
   * The audience of a URL that points at one of these addresses through one of `bases` (the
   * server's own URL, its public URL); undefined for any other URL.
   */
  audienceOfUrl(url: string, bases: readonly string[]): string | undefined {
    for (const base of bases) {
      const origin = base.replace(/\/+$/, "");
      if (origin === "" || !url.startsWith(`${origin}/`)) continue;
      const rest = url.slice(origin.length);
      const end = rest.search(/[?#]/);
      const audience = this.byAudienceUrl.get(end === -1 ? rest : rest.slice(0, end));
      if (audience !== undefined) return audience;
    }
    return undefined;
  }
}
