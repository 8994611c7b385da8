import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Broker } from "../broker/broker.js";
import type { CloudEvent } from "../events/event.js";
import type { Logger } from "../observability/logger.js";
import { REQUEST_REPLY_DEFAULTS } from "../resources/defaults.js";
import { parseIsoDuration } from "../resources/duration.js";
import { secretBytes } from "../resources/secrets.js";
import type { RequestReplyResource, SecretResource } from "../resources/types.js";
import { type RequestReplyConfig, RequestReplyRuntime } from "./request-reply.js";
import { type CorrelationKeys, parseCorrelationId } from "./request-reply-correlation.js";

export interface RequestReplyLookups {
  /** The running broker, if it runs. */
  broker(namespace: string, name: string): Broker | undefined;
  /** Whether the broker is among the resources (a missing one is waited for, not retried). */
  declared(namespace: string, name: string): boolean;
  secret(namespace: string, name: string): SecretResource | undefined;
  /** This process's own base URL: with the host name it tells processes apart. */
  readonly baseUrl: string;
}

/**
 * The running RequestReplies of this process, each watching its broker for replies under a
 * consumer of its own (see request-reply.ts).
 *
 * What names this process in correlation ids and consumer names: its host name and its own
 * address, so a process restarted in place takes back its consumer instead of leaving one behind,
 * and processes on one machine (or pods of a StatefulSet, as Knative runs RequestReply) differ. A
 * process that stops removes its consumers; one that crashes and never returns leaves them.
 */
export class RequestReplySet {
  private readonly running = new Map<string, RequestReplyRuntime>();
  /** Signs correlation ids of RequestReplies without spec.secrets: only this process checks them. */
  private readonly processKey = randomBytes(32);

  constructor(
    private readonly deps: { readonly logger: Logger },
    private readonly options: { readonly replica?: string } = {},
  ) {}

  get(namespace: string, name: string): RequestReplyRuntime | undefined {
    return this.running.get(`${namespace}/${name}`);
  }

  /** Returns false when one could not start watching (its broker or engine is not up). */
  async reconcile(
    resources: readonly RequestReplyResource[],
    lookups: RequestReplyLookups,
  ): Promise<boolean> {
    const replica = this.options.replica ?? `${hostname()}|${lookups.baseUrl}`;
    const wanted = new Set<string>();
    let complete = true;
    for (const resource of resources) {
      const { namespace, name } = resource.metadata;
      const key = `${namespace}/${name}`;
      wanted.add(key);
      let runtime = this.running.get(key);
      try {
        const config = this.configOf(resource, lookups);
        if (runtime) runtime.update(config);
        else {
          runtime = new RequestReplyRuntime(this.deps, config, instanceOf(replica, key));
          this.running.set(key, runtime);
        }
        const broker = lookups.broker(namespace, resource.spec.brokerRef.name);
        if (broker === undefined) {
          await runtime.unfollow();
          if (lookups.declared(namespace, resource.spec.brokerRef.name)) complete = false;
          continue;
        }
        await runtime.follow(broker);
      } catch (error) {
        this.deps.logger.error({ err: error, requestReply: key }, "request-reply could not start");
        complete = false;
      }
    }
    for (const [key, runtime] of this.running) {
      if (wanted.has(key)) continue;
      this.running.delete(key);
      await runtime.stop("the RequestReply was deleted");
    }
    return complete;
  }

  /** Shutdown: requests still waiting answer 503, and every watch leaves its engine. */
  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((runtime) => runtime.stop("shutting down")));
  }

  private configOf(
    resource: RequestReplyResource,
    lookups: RequestReplyLookups,
  ): RequestReplyConfig {
    const { spec, metadata } = resource;
    const timeout = spec.timeout || REQUEST_REPLY_DEFAULTS.timeout;
    return {
      namespace: metadata.namespace,
      name: metadata.name,
      correlationAttribute:
        spec.correlationAttribute || REQUEST_REPLY_DEFAULTS.correlationAttribute,
      replyAttribute: spec.replyAttribute || REQUEST_REPLY_DEFAULTS.replyAttribute,
      timeoutMs: parseIsoDuration(timeout) ?? 30_000,
      keys: this.keysOf(resource, lookups),
    };
  }

  /**
   * spec.secrets: the first key (by name) of the first Secret signs, every key verifies, so a key
   * is rotated by listing a new Secret first and dropping the old one after a timeout's length.
   */
  private keysOf(resource: RequestReplyResource, lookups: RequestReplyLookups): CorrelationKeys {
    const names = resource.spec.secrets ?? [];
    if (names.length === 0) return { signing: this.processKey, verifying: [this.processKey] };
    const keys: Buffer[] = [];
    for (const name of names) {
      const secret = lookups.secret(resource.metadata.namespace, name);
      if (!secret) throw new Error(`Secret ${resource.metadata.namespace}/${name} not found`);
      const bytes = secretBytes(secret);
      for (const key of [...bytes.keys()].sort()) keys.push(bytes.get(key)!);
    }
    if (keys.length === 0) throw new Error("spec.secrets hold no key to sign correlation ids with");
    return { signing: keys[0]!, verifying: keys };
  }
}

/**
 * For each broker some RequestReply publishes into (by `namespace/name`): whether an event is one
 * of their requests, i.e. carries a correlation id in a RequestReply's correlation attribute. A
 * request to the RequestReply is held open until a trigger delivers that event to its responder
 * and the reply comes back, so the trigger's delivery must not queue behind the attempts held
 * open (DeliveryControl.heldOpen). Only the id's shape is checked, not its MAC: the keys may be
 * another process's, and an event that merely looks like a request costs no more than a
 * connection of its own.
 */
export function requestsByBroker(
  resources: readonly RequestReplyResource[],
): ReadonlyMap<string, (event: CloudEvent) => boolean> {
  const attributes = new Map<string, Set<string>>();
  for (const { metadata, spec } of resources) {
    const broker = `${metadata.namespace}/${spec.brokerRef.name}`;
    const names = attributes.get(broker) ?? new Set<string>();
    attributes.set(broker, names);
    names.add(spec.correlationAttribute || REQUEST_REPLY_DEFAULTS.correlationAttribute);
  }
  const predicates = new Map<string, (event: CloudEvent) => boolean>();
  for (const [broker, names] of attributes) {
    const list = [...names];
    predicates.set(broker, (event) =>
      list.some((name) => {
        const value = event.attributes[name];
        return value !== undefined && parseCorrelationId(String(value)) !== undefined;
      }),
    );
  }
  return predicates;
}

/** A short lower-case name for one RequestReply in one process. */
function instanceOf(replica: string, key: string): string {
  return createHash("sha256").update(`${replica}\n${key}`).digest("hex").slice(0, 16);
}
