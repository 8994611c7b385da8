/**
 * Knative's feature flags: the ConfigMap `config-features` in namespace `knative-eventing`, read
 * from the manifests like any other resource (so a change applies on reload). This is the one
 * reader of that ConfigMap: a flag Eventail honours is a row of FLAGS, and `Features` types it.
 * A value that is not one of the flag's values is a validation error (featureIssues); at run time
 * it falls back to the flag's default, so a manifest that validation refused cannot be half-read.
 */
import { isHttpUrl } from "./addresses.js";

export const FEATURES_NAMESPACE = "knative-eventing";
export const FEATURES_NAME = "config-features";

interface Flag<T> {
  readonly default: T;
  /** The parsed value, or a one-line reason why the text is not one. */
  parse(text: string): { value: T } | { error: string };
}

/** A flag taking one of `values`, compared case-insensitively as Knative does. */
function oneOf<const V extends string>(values: readonly V[], fallback: V): Flag<V> {
  return {
    default: fallback,
    parse(text) {
      const value = text.trim().toLowerCase();
      return (values as readonly string[]).includes(value)
        ? { value: value as V }
        : { error: `must be one of ${values.join(", ")} (got ${JSON.stringify(text)})` };
    },
  };
}

/** Comma-separated absolute http(s) URLs; blanks between commas are ignored. */
function urlList(): Flag<readonly string[]> {
  return {
    default: [],
    parse(text) {
      const urls = text
        .split(",")
        .map((part) => part.trim())
        .filter((part) => part !== "");
      const bad = urls.find((url) => !isHttpUrl(url) || url.includes("?") || url.includes("#"));
      return bad === undefined
        ? { value: urls }
        : { error: `${JSON.stringify(bad)} is not an http(s) URL without query or fragment` };
    },
  };
}

/** Every flag Eventail reads; add a row for a new one. */
const FLAGS = {
  "authentication-oidc": oneOf(["enabled", "disabled"], "disabled"),
  "default-authorization-mode": oneOf(
    ["allow-same-namespace", "allow-all", "deny-all"],
    "allow-same-namespace",
  ),
  /** Eventail's own key: OIDC issuers whose tokens ingress accepts besides its own. */
  "eventail-oidc-issuers": urlList(),
  "transport-encryption": oneOf(["disabled", "permissive", "strict"], "disabled"),
  "cross-namespace-event-links": oneOf(["enabled", "disabled"], "disabled"),
  "eventtype-auto-create": oneOf(["enabled", "disabled"], "disabled"),
} as const;

type FlagValue<F> = F extends Flag<infer T> ? T : never;

/** The flags as Eventail reads them, by their Knative key. */
export type Features = { readonly [K in keyof typeof FLAGS]: FlagValue<(typeof FLAGS)[K]> };

export const DEFAULT_FEATURES: Features = readFeatures(undefined);

/** The flags of a `config-features` ConfigMap's data; absent or invalid values take defaults. */
export function readFeatures(data: Readonly<Record<string, string>> | undefined): Features {
  const out: Record<string, unknown> = {};
  for (const [key, flag] of Object.entries(FLAGS) as [string, Flag<unknown>][]) {
    const text = data?.[key];
    const parsed = text === undefined ? undefined : flag.parse(text);
    out[key] = parsed !== undefined && "value" in parsed ? parsed.value : flag.default;
  }
  return Object.freeze(out) as Features;
}

/** What is wrong with a `config-features` ConfigMap's data, by key. Unknown keys are Knative's. */
export function featureIssues(
  data: Readonly<Record<string, string>> | undefined,
): { key: string; message: string }[] {
  const issues: { key: string; message: string }[] = [];
  for (const [key, flag] of Object.entries(FLAGS) as [string, Flag<unknown>][]) {
    const text = data?.[key];
    if (text === undefined) continue;
    const parsed = flag.parse(text);
    if ("error" in parsed) issues.push({ key, message: parsed.error });
  }
  return issues;
}

/** True for the ConfigMap this module reads. */
export function isFeaturesConfigMap(resource: {
  kind: string;
  metadata: { namespace: string; name: string };
}): boolean {
  return (
    resource.kind === "ConfigMap" &&
    resource.metadata.namespace === FEATURES_NAMESPACE &&
    resource.metadata.name === FEATURES_NAME
  );
}

/** The flags in effect for what a store holds. */
export function featuresOf(store: {
  get(
    kind: string,
    namespace: string,
    name: string,
  ): { data?: Readonly<Record<string, string>> } | undefined;
}): Features {
  return readFeatures(store.get("ConfigMap", FEATURES_NAMESPACE, FEATURES_NAME)?.data);
}

/**
 * True when `config-features` sets an enabled/disabled `flag` to enabled, for rules that see
 * ConfigMaps by namespace and name rather than a store.
 */
export function featureEnabled(
  configMaps: (namespace: string, name: string) => Readonly<Record<string, string>> | undefined,
  flag: "cross-namespace-event-links" | "eventtype-auto-create" | "authentication-oidc",
): boolean {
  return readFeatures(configMaps(FEATURES_NAMESPACE, FEATURES_NAME))[flag] === "enabled";
}
