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

/** The same merge as secretData, as bytes: signing keys may be binary (Kubernetes' own are). */
export function secretBytes(secret: SecretResource): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [key, value] of Object.entries(secret.data ?? {})) {
    out.set(key, Buffer.from(value, "base64"));
  }
  for (const [key, value] of Object.entries(secret.stringData ?? {})) {
    out.set(key, Buffer.from(value, "utf8"));
  }
  return out;
}
