/**
 * Refs to Services (`v1 Service`, `serving.knative.dev/v1 Service`) in standalone mode
 * (CONTRACT §2): what runs on a cluster as a Service runs here wherever the user says, so the
 * same Knative YAML serves unchanged. The address is, in order: `eventail run --service
 * NS/NAME=URL`, else `data.NAME` of the ConfigMap `eventail-services` in the ref's namespace,
 * else the cluster address `http://NAME.NS.svc.cluster.local` (with a warning: nothing answers
 * there off-cluster unless the user's DNS says so).
 */

/** The ConfigMap, in a ref's namespace, whose `data.NAME` is the URL of Service NAME. */
export const SERVICES_CONFIG_MAP = "eventail-services";

const SERVICE_API_VERSIONS = ["v1", "serving.knative.dev/v1"] as const;

/** `--service` mappings, by `namespace/name`. */
export type ServiceFlags = ReadonlyMap<string, string>;

/**
 * Where a Service named in a ref listens, when the user said so (a `--service` flag or the
 * `eventail-services` ConfigMap); undefined sends it to its cluster address.
 */
export type ServiceLookup = (namespace: string, name: string) => string | undefined;

export function isServiceRef(ref: { readonly apiVersion?: unknown; readonly kind?: unknown }) {
  return (
    ref.kind === "Service" && (SERVICE_API_VERSIONS as readonly unknown[]).includes(ref.apiVersion)
  );
}

/** The address a Service has on a cluster, used when nothing maps it. */
export function clusterServiceUrl(namespace: string, name: string): string {
  return `http://${name}.${namespace}.svc.cluster.local/`;
}

/** Where a mapped Service listens: the flag wins over the ConfigMap. */
export function mappedServiceUrl(
  namespace: string,
  name: string,
  flags: ServiceFlags | undefined,
  configMapData: (namespace: string) => Readonly<Record<string, string>> | undefined,
): string | undefined {
  return flags?.get(`${namespace}/${name}`) ?? configMapData(namespace)?.[name];
}

/** The lookup of a whole configuration: the flags, then each namespace's ConfigMap. */
export function serviceLookup(
  flags: ServiceFlags | undefined,
  configMapData: (namespace: string, name: string) => Readonly<Record<string, string>> | undefined,
): ServiceLookup {
  return (namespace, name) =>
    mappedServiceUrl(namespace, name, flags, (ns) => configMapData(ns, SERVICES_CONFIG_MAP));
}

export class ServiceFlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ServiceFlagError";
  }
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * One `--service NS/NAME=URL` value. The URL must be absolute http(s): it stands in for the
 * Service's whole address, and a relative `uri` beside the ref resolves against it.
 */
export function parseServiceFlag(value: string): { key: string; url: string } {
  const equals = value.indexOf("=");
  const slash = value.indexOf("/");
  if (equals < 0 || slash < 0 || slash > equals) {
    throw new ServiceFlagError(
      `--service ${JSON.stringify(value)}: expected NAMESPACE/NAME=URL, e.g. default/event-display=http://127.0.0.1:8081`,
    );
  }
  const namespace = value.slice(0, slash);
  const name = value.slice(slash + 1, equals);
  const url = value.slice(equals + 1);
  if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) {
    throw new ServiceFlagError(`--service ${JSON.stringify(value)}: invalid namespace`);
  }
  if (!DNS1123_LABEL.test(name) || name.length > 63) {
    throw new ServiceFlagError(`--service ${JSON.stringify(value)}: invalid Service name`);
  }
  if (!isAbsoluteHttpUrl(url)) {
    throw new ServiceFlagError(
      `--service ${JSON.stringify(value)}: ${JSON.stringify(url)} is not an absolute http(s) URL`,
    );
  }
  return { key: `${namespace}/${name}`, url };
}

/** Every `--service` value; a later mapping of the same Service replaces an earlier one. */
export function parseServiceFlags(values: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (const value of values) {
    const { key, url } = parseServiceFlag(value);
    flags.set(key, url);
  }
  return flags;
}

export function isAbsoluteHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === "http:" || url.protocol === "https:") && url.host !== "";
}
