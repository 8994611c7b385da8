import { CHANNEL_BACKINGS } from "../broker-config.js";
import { childPath } from "../issue.js";
import { knownKinds, schemaErrors } from "../schema.js";
import { asFields, asString, type Check, type Fields } from "./check.js";
import { checkDelivery, checkDuration } from "./delivery.js";
import { checkServedVersion, checkTargetExists } from "./destination.js";

/** The concrete channel kinds a channelTemplate may name, each with its own backing. */
const CHANNEL_TEMPLATE_KINDS = Object.keys(CHANNEL_BACKINGS);

/** What a Subscription's channel may be: the generic Channel or a concrete kind. */
const CHANNEL_KINDS = ["Channel", ...CHANNEL_TEMPLATE_KINDS];

/** Rules every channel kind shares, plus KafkaChannel's ISO-8601 retention. */
export function checkChannelSpec(check: Check, kind: string, spec: Fields, at: string): void {
  checkDelivery(check, spec["delivery"], childPath(at, "delivery"));
  const retention = asString(spec["retentionDuration"]);
  if (kind === "KafkaChannel" && retention !== undefined) {
    checkDuration(check, retention, childPath(at, "retentionDuration"));
  }
}

/**
 * A channelTemplate names a concrete channel kind; its spec is checked against that kind's own
 * schema and rules, as if it were that channel.
 */
export function checkChannelTemplate(check: Check, value: unknown, at: string): void {
  const template = asFields(value);
  if (!template) return;
  const kind = asString(template["kind"]);
  const apiVersion = asString(template["apiVersion"]);
  if (!kind || !apiVersion) return;
  if (!CHANNEL_TEMPLATE_KINDS.includes(kind)) {
    check.report(
      childPath(at, "kind"),
      `must be a channel kind: ${CHANNEL_TEMPLATE_KINDS.join(", ")}`,
    );
    return;
  }
  checkServedVersion(check, kind, apiVersion, childPath(at, "apiVersion"));
  const spec = template["spec"] ?? {};
  const specAt = childPath(at, "spec");
  const served = knownKinds().get(kind)?.apiVersions ?? [];
  const errors =
    schemaErrors(served.includes(apiVersion) ? apiVersion : served[0]!, kind, { spec }) ?? [];
  for (const error of errors) check.report(specAt + error.path.slice("spec".length), error.message);
  const fields = asFields(spec);
  if (fields) checkChannelSpec(check, kind, fields, specAt);
}

/** A Subscription's channel must be a channel kind, served at that apiVersion, and loaded. */
export function checkChannelRef(check: Check, value: unknown, at: string): void {
  const ref = asFields(value);
  if (!ref) return;
  const kind = asString(ref["kind"]);
  const name = asString(ref["name"]);
  const apiVersion = asString(ref["apiVersion"]);
  if (!kind || !name || !apiVersion) return;
  if (!CHANNEL_KINDS.includes(kind)) {
    check.report(childPath(at, "kind"), `must be a channel kind: ${CHANNEL_KINDS.join(", ")}`);
    return;
  }
  checkServedVersion(check, kind, apiVersion, childPath(at, "apiVersion"));
  const namespace = asString(ref["namespace"]) || check.namespace;
  checkTargetExists(check, kind, namespace, name, childPath(at, "name"));
}
