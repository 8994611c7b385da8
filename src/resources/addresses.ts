/**
 * Where each addressable kind listens on the data plane (CONTRACT §3), and how a Destination
 * becomes a URL. Kinds missing here have no address in standalone mode.
 */
import { MissingReferenceError } from "./missing-reference.js";
import { clusterServiceUrl, isServiceRef, type ServiceLookup } from "./services.js";
import type { Destination } from "./types.js";

const CHANNEL_ROUTE = (namespace: string, name: string) => `/channels/${namespace}/${name}`;
/** Every sink kind shares one address space, so a name is unique across them (validation). */
const SINK_ROUTE = (namespace: string, name: string) => `/sinks/${namespace}/${name}`;

const ROUTES: Readonly<Record<string, (namespace: string, name: string) => string>> = {
  Broker: (namespace, name) => `/${namespace}/${name}`,
  Channel: CHANNEL_ROUTE,
  InMemoryChannel: CHANNEL_ROUTE,
  KafkaChannel: CHANNEL_ROUTE,
  NatsJetStreamChannel: CHANNEL_ROUTE,
  RedisStreamChannel: CHANNEL_ROUTE,
  Sequence: (namespace, name) => `/flows/${namespace}/sequences/${name}`,
  Parallel: (namespace, name) => `/flows/${namespace}/parallels/${name}`,
  IntegrationSink: SINK_ROUTE,
  JobSink: SINK_ROUTE,
  KafkaSink: SINK_ROUTE,
  RedisStreamSink: SINK_ROUTE,
  EventTransform: (namespace, name) => `/transforms/${namespace}/${name}`,
  RequestReply: (namespace, name) => `/requestreply/${namespace}/${name}`,
};

/** Whether a resource of this kind, namespace and name is among the resources. */
export type TargetExists = (kind: string, namespace: string, name: string) => boolean;

export interface AddressableRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

export function isAddressableKind(kind: string): boolean {
  return Object.hasOwn(ROUTES, kind);
}

/** The kinds with an address here, for messages. */
export function addressableKinds(): string[] {
  return Object.keys(ROUTES);
}

/** The URL a resource receives events at, or undefined for a kind with no address here. */
export function addressOf(ref: AddressableRef, baseUrl: string): string | undefined {
  const route = ROUTES[ref.kind];
  return route ? `${baseUrl.replace(/\/+$/, "")}${route(ref.namespace, ref.name)}` : undefined;
}

/** A Destination that cannot become a URL; `field` is the part at fault (`ref`, `uri`). */
export class DestinationError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = "DestinationError";
  }
}

/** True for a URL with a scheme and a host, as Knative requires of a URI standing alone. */
export function isAbsoluteUri(uri: string): boolean {
  if (!URL.canParse(uri)) return false;
  return new URL(uri).host !== "";
}

export function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === "http:" || protocol === "https:";
}

/**
 * The URL a Destination delivers to. A ref resolves to its kind's address (its namespace
 * defaulting to `namespace`); a uri beside a ref is resolved against that address as a URI
 * reference (RFC 3986, as Knative does); a uri alone must be absolute. A ref to a Service
 * resolves through `services` (the `--service` flags and `eventail-services` ConfigMaps), else to
 * its cluster address (services.ts). A ref to a kind with no address here is usable only with an
 * absolute uri, which then stands in for it.
 * Throws DestinationError when none of that applies; validation reports those cases first. With
 * `exists`, a ref to one of Eventail's own kinds that is not among the resources throws
 * MissingReferenceError: its address would only answer 404.
 */
export function resolveDestination(
  dest: Destination,
  namespace: string,
  baseUrl: string,
  services?: ServiceLookup,
  exists?: TargetExists,
): string {
  const { ref, uri } = dest;
  if (ref) {
    const refNamespace = ref.namespace || namespace;
    if (exists && isAddressableKind(ref.kind) && !exists(ref.kind, refNamespace, ref.name)) {
      throw new MissingReferenceError(ref.kind, refNamespace, ref.name);
    }
    const target = isServiceRef(ref)
      ? (services?.(refNamespace, ref.name) ?? clusterServiceUrl(refNamespace, ref.name))
      : addressOf({ kind: ref.kind, namespace: refNamespace, name: ref.name }, baseUrl);
    if (target === undefined) {
      if (uri !== undefined && isAbsoluteUri(uri)) return uri;
      throw new DestinationError(
        `cannot resolve a ref to ${ref.kind} ${ref.name} in standalone mode; set an absolute uri`,
        "ref",
      );
    }
    if (uri === undefined || uri === "") return target;
    if (!URL.canParse(uri, target))
      throw new DestinationError(`invalid uri ${JSON.stringify(uri)}`, "uri");
    return new URL(uri, target).toString();
  }
  if (uri === undefined) throw new DestinationError("a destination needs ref or uri", "ref");
  if (!isAbsoluteUri(uri)) {
    throw new DestinationError(
      `uri ${JSON.stringify(uri)} must be absolute when no ref is set`,
      "uri",
    );
  }
  return uri;
}
