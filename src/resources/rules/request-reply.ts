/**
 * RequestReply, as Knative validates it (brokerRef to a Broker of the same namespace, a positive
 * ISO-8601 timeout, attributes that are not core ones), plus what Eventail needs to run it: the
 * attributes are valid CloudEvents names and differ, and spec.secrets name Secrets with keys
 * long enough to sign.
 */
import { REQUEST_REPLY_DEFAULTS } from "../defaults.js";
import { childPath } from "../issue.js";
import { secretBytes } from "../secrets.js";
import type { SecretResource } from "../types.js";
import { asArray, asFields, asString, type Check, type Fields, quote } from "./check.js";
import { checkDelivery, checkDuration } from "./delivery.js";
import { checkServedVersion, checkTargetExists } from "./destination.js";

/** A correlation id there would replace what identifies or describes the event. */
const CONTEXT_ATTRIBUTES = [
  "id",
  "source",
  "specversion",
  "type",
  "datacontenttype",
  "dataschema",
  "subject",
  "time",
];
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** HMAC-SHA256 keys shorter than this are guessable; Knative generates 32-byte keys. */
export const MIN_KEY_BYTES = 16;

export function checkRequestReply(check: Check, spec: Fields): void {
  checkBrokerRef(check, asFields(spec["brokerRef"]));
  const correlation = checkAttribute(check, spec["correlationAttribute"], "correlationAttribute");
  const reply = checkAttribute(check, spec["replyAttribute"], "replyAttribute");
  if (correlation !== undefined && correlation === reply) {
    check.report(
      "spec.replyAttribute",
      `must differ from spec.correlationAttribute (both ${quote(reply)}): a request would be its own reply`,
    );
  }
  const timeout = asString(spec["timeout"]);
  if (timeout !== undefined && checkDuration(check, timeout, "spec.timeout") === 0) {
    check.report("spec.timeout", "must be a positive duration");
  }
  checkDelivery(check, spec["delivery"], "spec.delivery");
  asArray(spec["secrets"]).forEach((name, index) => {
    if (typeof name === "string" && name !== "") {
      checkSecret(check, name, childPath("spec.secrets", index));
    }
  });
}

function checkBrokerRef(check: Check, ref: Fields | undefined): void {
  if (!ref) return;
  const kind = asString(ref["kind"]);
  const name = asString(ref["name"]);
  const apiVersion = asString(ref["apiVersion"]);
  if (ref["namespace"] !== undefined) {
    check.report(
      "spec.brokerRef.namespace",
      "must not be set: the Broker is in the RequestReply's own namespace",
    );
  }
  if (kind !== undefined && kind.toLowerCase() !== "broker") {
    check.report("spec.brokerRef.kind", `must be Broker (got ${quote(kind)})`);
    return;
  }
  if (apiVersion) checkServedVersion(check, "Broker", apiVersion, "spec.brokerRef.apiVersion");
  if (name) checkTargetExists(check, "Broker", check.namespace, name, "spec.brokerRef.name");
}

/** The attribute name (its default when unset) when usable, else undefined (reported). */
function checkAttribute(
  check: Check,
  value: unknown,
  field: "correlationAttribute" | "replyAttribute",
): string | undefined {
  // Knative defaults an empty attribute too.
  if (value === undefined || value === "") return REQUEST_REPLY_DEFAULTS[field];
  const name = asString(value);
  if (name === undefined) return undefined;
  const at = `spec.${field}`;
  if (!ATTRIBUTE_NAME.test(name)) {
    check.report(
      at,
      `${quote(name)} is not a CloudEvents attribute name (lower-case letters and digits)`,
    );
    return undefined;
  }
  if (CONTEXT_ATTRIBUTES.includes(name)) {
    check.report(at, `cannot be the core CloudEvents attribute ${quote(name)}`);
    return undefined;
  }
  return name;
}

function checkSecret(check: Check, name: string, at: string): void {
  const secret = check.find("Secret", check.namespace, name) as SecretResource | undefined;
  if (!secret) {
    check.report(at, `Secret ${check.namespace}/${name} not found`);
    return;
  }
  const keys = secretBytes(secret);
  if (keys.size === 0) {
    check.report(at, `Secret ${check.namespace}/${name} holds no key to sign correlation ids with`);
  }
  for (const [key, value] of keys) {
    if (value.length < MIN_KEY_BYTES) {
      check.report(
        at,
        `key ${quote(key)} of Secret ${check.namespace}/${name} holds ${value.length} bytes; ` +
          `a signing key needs at least ${MIN_KEY_BYTES}`,
      );
    }
  }
}
