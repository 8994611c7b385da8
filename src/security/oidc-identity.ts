/**
 * Knative's OIDC identity of a sending resource (knative/eventing pkg/auth): the service account
 * `{name}-oidc-{group}-{Kind}` shortened by kmeta.ChildName and lower-cased, as the subject
 * `system:serviceaccount:{namespace}:{that name}`. Outbound tokens carry it, and EventPolicy
 * `from.ref` entries resolve to it, so policies written for Knative keep their meaning here.
 */
import { createHash } from "node:crypto";

export const SERVICE_ACCOUNT_PREFIX = "system:serviceaccount";

const LONGEST = 63;
const MD5_HEX = 32;
const HEAD = LONGEST - MD5_HEX;

function md5Hex(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/**
 * kmeta.ChildName: `parent + suffix` when it fits in 63 characters, else a name that keeps a
 * prefix of the parent and an MD5 of what was cut, so it stays unique and within the limit.
 */
export function childName(parent: string, suffix: string): string {
  if (parent.length <= LONGEST - suffix.length) return parent + suffix;
  if (HEAD - suffix.length <= 0) {
    const hash = md5Hex(parent + suffix);
    let name = (parent.length > HEAD ? parent.slice(0, HEAD) : parent) + hash;
    const room = LONGEST - name.length;
    if (room > 0) name += suffix.slice(0, room);
    return name.replace(/[^a-zA-Z0-9]+$/, "");
  }
  return parent.slice(0, HEAD - suffix.length) + md5Hex(parent) + suffix;
}

/**
 * The OIDC service account name of a resource. `kind` keeps its case (`Trigger`): the hash of a
 * long name is taken before lower-casing, as Knative does.
 */
export function oidcServiceAccountName(group: string, kind: string, name: string): string {
  return childName(name, `-oidc-${group}-${kind}`).toLowerCase();
}

/** `system:serviceaccount:{namespace}:{service account}` of a sending resource. */
export function oidcSubject(group: string, kind: string, namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_PREFIX}:${namespace}:${oidcServiceAccountName(group, kind, name)}`;
}

/** The subject prefix every identity of a namespace shares (allow-same-namespace). */
export function namespaceSubjectPrefix(namespace: string): string {
  return `${SERVICE_ACCOUNT_PREFIX}:${namespace}:`;
}
