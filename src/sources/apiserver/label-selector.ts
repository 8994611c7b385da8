/** A Kubernetes LabelSelector, as ApiServerSource's resources[].selector and namespaceSelector. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: ReadonlyArray<{
    readonly key: string;
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    readonly values?: readonly string[];
  }>;
}

/**
 * The `labelSelector` query parameter for a selector: `app=web,tier in (a,b),!legacy`.
 * Empty when the selector selects everything.
 */
export function selectorQuery(selector: LabelSelector | undefined): string {
  const terms: string[] = [];
  for (const [key, value] of Object.entries(selector?.matchLabels ?? {}))
    terms.push(`${key}=${value}`);
  for (const { key, operator, values = [] } of selector?.matchExpressions ?? []) {
    switch (operator) {
      case "In":
        terms.push(`${key} in (${values.join(",")})`);
        break;
      case "NotIn":
        terms.push(`${key} notin (${values.join(",")})`);
        break;
      case "Exists":
        terms.push(key);
        break;
      case "DoesNotExist":
        terms.push(`!${key}`);
        break;
    }
  }
  return terms.join(",");
}

/** Label keys: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

export function isLabelKey(key: string): boolean {
  const slash = key.indexOf("/");
  if (slash === -1) return LABEL_NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && LABEL_PREFIX.test(prefix) && LABEL_NAME.test(key.slice(slash + 1));
}

export function isLabelValue(value: string): boolean {
  return value.length <= 63 && LABEL_VALUE.test(value);
}
