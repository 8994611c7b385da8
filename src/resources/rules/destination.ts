import { isAbsoluteUri, isAddressableKind } from "../addresses.js";
import { parseCaCerts } from "../ca-certs.js";
import { childPath } from "../issue.js";
import { missingMessage } from "../missing-reference.js";
import { knownKinds } from "../schema.js";
import { clusterServiceUrl, isServiceRef, SERVICES_CONFIG_MAP } from "../services.js";
import { asFields, asString, type Check, quote } from "./check.js";

/**
 * A Destination must resolve: a ref to an addressable kind names a loaded resource (and may add
 * a relative uri); a ref to a Service resolves as services.ts says, with a warning when only its
 * cluster address is known; a ref to any other kind has no address here, so it needs an absolute
 * uri to stand in for it; a uri alone must be absolute.
 */
export function checkDestination(check: Check, value: unknown, at: string): void {
  const dest = asFields(value);
  if (!dest) return;
  const ref = asFields(dest["ref"]);
  const uri = asString(dest["uri"]);
  const uriAt = childPath(at, "uri");
  checkCaCerts(check, dest["CACerts"], childPath(at, "CACerts"));
  if (!ref && uri === undefined) {
    check.report(at, "needs ref or uri");
    return;
  }
  if (!ref) {
    if (uri !== undefined && !isAbsoluteUri(uri)) {
      check.report(uriAt, `${quote(uri)} must be an absolute URL when no ref is set`);
    }
    return;
  }
  const kind = asString(ref["kind"]);
  const name = asString(ref["name"]);
  const apiVersion = asString(ref["apiVersion"]);
  if (!kind || !name || !apiVersion) return;
  const namespace = asString(ref["namespace"]) || check.namespace;
  const refAt = childPath(at, "ref");
  if (isServiceRef(ref)) {
    if (!checkRelativeUri(check, uri, uriAt)) return;
    if (check.serviceUrl(namespace, name) === undefined) {
      check.warn(
        refAt,
        `Service ${namespace}/${name} resolves to ${clusterServiceUrl(namespace, name)} ` +
          `(map it with --service ${namespace}/${name}=URL or data.${name} of ConfigMap ` +
          `${namespace}/${SERVICES_CONFIG_MAP})`,
      );
    }
    return;
  }
  if (!isAddressableKind(kind)) {
    if (uri === undefined) {
      check.report(
        refAt,
        `a ref to ${apiVersion} ${kind} cannot be resolved in standalone mode (refs resolve to ` +
          "Eventail's own brokers, channels, flows and sinks, and to Services); set an absolute uri",
      );
    } else if (!isAbsoluteUri(uri)) {
      check.report(
        uriAt,
        `must be an absolute URL: a ref to ${kind} cannot be resolved in standalone mode`,
      );
    }
    return;
  }
  checkServedVersion(check, kind, apiVersion, childPath(refAt, "apiVersion"));
  checkTargetExists(check, kind, namespace, name, childPath(refAt, "name"));
  checkRelativeUri(check, uri, uriAt);
}

/** A uri beside a ref is resolved against the ref's address, so it must be relative. */
function checkRelativeUri(check: Check, uri: string | undefined, at: string): boolean {
  if (uri === undefined) return true;
  if (isAbsoluteUri(uri)) {
    check.report(at, "must be relative when ref is set (it is resolved against the ref's address)");
    return false;
  }
  if (!URL.canParse(uri, "http://base.invalid/")) {
    check.report(at, `${quote(uri)} is not a valid URI reference`);
    return false;
  }
  return true;
}

/** CACerts must be PEM certificates: a bad bundle would otherwise fail every delivery later. */
function checkCaCerts(check: Check, value: unknown, at: string): void {
  const text = asString(value);
  if (text === undefined) return;
  const parsed = parseCaCerts(text);
  if ("error" in parsed) check.report(at, parsed.error);
}

/**
 * A ref to a resource that is not among the manifests is a warning, not an error: Knative accepts
 * it (the resource is not Ready until the target exists), and so does Eventail, which leaves what
 * depends on it stopped until a reload brings the target.
 */
export function checkTargetExists(
  check: Check,
  kind: string,
  namespace: string,
  name: string,
  at: string,
): void {
  if (!check.exists(kind, namespace, name)) {
    check.warn(at, missingMessage({ kind, namespace, name }, check.resource.kind, at));
  }
}

/** Knative resolves a ref by its API group and version, so a wrong apiVersion resolves nothing. */
export function checkServedVersion(
  check: Check,
  kind: string,
  apiVersion: string,
  at: string,
): void {
  const served = knownKinds().get(kind)?.apiVersions ?? [];
  if (served.length > 0 && !served.includes(apiVersion)) {
    check.report(at, `${kind} is served as ${served.join(", ")}, not ${apiVersion}`);
  }
}
