import type { SecretResource } from "./types.js";

/**
 * A Secret's values as text, the way Kubernetes merges them: `data` is base64-decoded, and a key
 * also in `stringData` takes the `stringData` value.
 */
export function secretData(secret: SecretResource): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    out[key] = Buffer.from(value, "base64").toString("utf8");
  }
  return Object.assign(out, secret.stringData ?? {});
}
