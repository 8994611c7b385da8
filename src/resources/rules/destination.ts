import { isAbsoluteUri, isAddressableKind } from "../addresses.js";
import { childPath } from "../issue.js";
import { knownKinds } from "../schema.js";
import { asFields, asString, type Check, quote } from "./check.js";

/**
 * A Destination must resolve: a ref to an addressable kind names a loaded resource (and may add
 * a relative uri); a ref to any other kind has no address here, so it needs an absolute uri to
 * stand in for it; a uri alone must be absolute.
 */
export function checkDestination(check: Check, value: unknown, at: string): void {
  const dest = asFields(value);
  if (!dest) return;
  const ref = asFields(dest["ref"]);
  const uri = asString(dest["uri"]);
  const uriAt = childPath(at, "uri");
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
  if (!isAddressableKind(kind)) {
    if (uri === undefined) {
      check.report(
        refAt,
        `a ref to ${kind} cannot be resolved in standalone mode (addressable kinds: ` +
          "Broker, Channel, InMemoryChannel, Sequence, Parallel, IntegrationSink, EventTransform, " +
          "RequestReply); set an absolute uri",
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
  if (uri !== undefined) {
    if (isAbsoluteUri(uri)) {
      check.report(
        uriAt,
        "must be relative when ref is set (it is resolved against the ref's address)",
      );
    } else if (!URL.canParse(uri, "http://base.invalid/")) {
      check.report(uriAt, `${quote(uri)} is not a valid URI reference`);
    }
  }
}

export function checkTargetExists(
  check: Check,
  kind: string,
  namespace: string,
  name: string,
  at: string,
): void {
  if (!check.exists(kind, namespace, name))
    check.report(at, `${kind} ${namespace}/${name} not found`);
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
