/**
 * Knative's RabbitMQ shapes read standalone (eventing-rabbitmq): a RabbitmqBrokerConfig (or, in
 * older releases, an operator's RabbitmqCluster named directly by a Broker's spec.config) and the
 * RabbitmqSource's cluster reference. On a cluster the operator's RabbitmqCluster carries the
 * address; standalone there is no operator, so the address comes from, in order:
 * `rabbitmqClusterReference.connectionSecret` (a Secret with `uri`, and `username`/`password`
 * when the uri has none), the annotation `eventail.io/rabbitmq-url`, else RABBITMQ_URL or the
 * local guest (the backing's own default) — the last with a warning naming the field.
 */
export const RABBITMQ_URL_ANNOTATION = "eventail.io/rabbitmq-url";

export type ResourceLookup = (
  kind: string,
  namespace: string,
  name: string,
) =>
  | {
      readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
      readonly spec?: unknown;
    }
  | undefined;

/** A Secret's values as text (data base64-decoded, stringData over it), or undefined. */
export type SecretLookup = (
  namespace: string,
  name: string,
) => Readonly<Record<string, string>> | undefined;

export function isRabbitBrokerConfig(ref: { apiVersion?: string; kind: string }): boolean {
  return (
    ref.kind === "RabbitmqBrokerConfig" &&
    (ref.apiVersion ?? "").startsWith("eventing.knative.dev/")
  );
}

export function isRabbitCluster(ref: { apiVersion?: string; kind: string }): boolean {
  return ref.kind === "RabbitmqCluster" && (ref.apiVersion ?? "").startsWith("rabbitmq.com/");
}

/** Where a RabbitMQ address comes from, and the URL when one was given. */
export type RabbitAddress =
  | { readonly from: "secret" | "annotation"; readonly url: string }
  | { readonly from: "default"; readonly cluster: string | undefined }
  | { readonly from: "invalid"; readonly path: string; readonly message: string }
  /** The connection Secret is not among the manifests (yet). */
  | {
      readonly from: "missing";
      readonly path: string;
      readonly namespace: string;
      readonly name: string;
    };

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The address a `rabbitmqClusterReference` (at `at`) and the holder's annotations give, read in
 * the holder's `namespace`. `vhost` (spec.vhost, or rabbitmqResourcesConfig.vhost) replaces the
 * URL's path.
 */
export function rabbitAddress(
  clusterReference: unknown,
  annotations: Readonly<Record<string, string>> | undefined,
  namespace: string,
  secrets: SecretLookup,
  at: string,
  vhost?: string,
): RabbitAddress {
  const reference = record(clusterReference);
  const secretName = text(record(reference?.["connectionSecret"])?.["name"]);
  const withVhost = (url: string) => {
    if (vhost === undefined) return url;
    const parsed = new URL(url);
    parsed.pathname = `/${encodeURIComponent(vhost)}`;
    return parsed.toString();
  };
  if (secretName !== undefined) {
    const path = `${at}.connectionSecret.name`;
    const data = secrets(namespace, secretName);
    if (data === undefined) return { from: "missing", path, namespace, name: secretName };
    const url = connectionUrl(data);
    if (url === undefined) {
      return {
        from: "invalid",
        path,
        message: `Secret ${namespace}/${secretName} has no key uri holding an amqp:// or amqps:// URL (or a host with port, username and password)`,
      };
    }
    return { from: "secret", url: withVhost(url) };
  }
  const annotated = annotations?.[RABBITMQ_URL_ANNOTATION];
  if (annotated !== undefined) {
    if (!/^amqps?:\/\/[^/]/.test(annotated)) {
      return {
        from: "invalid",
        path: `metadata.annotations.${RABBITMQ_URL_ANNOTATION}`,
        message: `${JSON.stringify(annotated.replace(/:[^:@/]*@/, ":***@"))} is not an amqp:// or amqps:// URL`,
      };
    }
    return { from: "annotation", url: withVhost(annotated) };
  }
  return { from: "default", cluster: text(reference?.["name"]) };
}

/** The URL a connection Secret gives: `uri` as a URL, or a host completed by port and user. */
export function connectionUrl(data: Readonly<Record<string, string>>): string | undefined {
  const uri = data["uri"]?.trim();
  if (!uri) return undefined;
  const username = data["username"];
  const password = data["password"];
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(uri) ? uri : `amqp://${uri}`);
  } catch {
    return undefined;
  }
  // eventing-rabbitmq's secrets often hold the management URL (http://host:15672): AMQP is 5672.
  if (url.protocol === "http:" || url.protocol === "https:") {
    const tls = url.protocol === "https:";
    url = new URL(
      `${tls ? "amqps" : "amqp"}://${url.hostname}:${data["port"] ?? (tls ? "5671" : "5672")}`,
    );
  } else if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    return undefined;
  } else if (!url.port && data["port"]) {
    url.port = data["port"];
  }
  if (!url.username && username) url.username = encodeURIComponent(username);
  if (!url.password && password) url.password = encodeURIComponent(password);
  return url.toString().replace(/\/$/, "");
}

/** The warning of a cluster reference standalone Eventail cannot follow (no operator). */
export function operatorClusterWarning(cluster: string | undefined): string {
  return (
    `names ${cluster === undefined ? "a RabbitmqCluster" : `RabbitmqCluster ${JSON.stringify(cluster)}`}, ` +
    "which standalone Eventail cannot look up (there is no RabbitMQ operator): it connects to " +
    "RABBITMQ_URL, else amqp://guest:guest@127.0.0.1:5672; give the address with " +
    `rabbitmqClusterReference.connectionSecret (a Secret with key uri) or the annotation ${RABBITMQ_URL_ANNOTATION}`
  );
}

/** The backing settings a RabbitmqBrokerConfig's spec gives (url only when one was given). */
export function rabbitBrokerSettings(
  config: {
    readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
    readonly spec?: unknown;
  },
  namespace: string,
  secrets: SecretLookup,
): { settings: Record<string, string>; address: RabbitAddress } {
  const spec = record(config.spec);
  const address = rabbitAddress(
    spec?.["rabbitmqClusterReference"],
    config.metadata?.annotations,
    namespace,
    secrets,
    "spec.rabbitmqClusterReference",
    text(spec?.["vhost"]),
  );
  const settings: Record<string, string> = {};
  if (address.from === "secret" || address.from === "annotation") settings["url"] = address.url;
  const queueType = text(spec?.["queueType"]);
  if (queueType !== undefined) settings["queueType"] = queueType;
  return { settings, address };
}
