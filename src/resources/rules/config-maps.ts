import { parse } from "yaml";
import {
  BROKER_DEFAULTS_CONFIG_MAP,
  BROKER_DEFAULTS_KEY,
  CHANNEL_TEMPLATE_KEY,
  KNATIVE_NAMESPACE,
} from "../broker-config.js";
import { childPath } from "../issue.js";
import { isAbsoluteHttpUrl, SERVICES_CONFIG_MAP } from "../services.js";
import { checkChannelTemplate } from "./channels.js";
import { asFields, type Check, quote } from "./check.js";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/**
 * The ConfigMaps whose data Eventail reads beyond strings: `eventail-services` (Service name →
 * URL), Knative's `channel-template-spec` (a channel template as YAML text) and Knative's
 * `config-br-defaults`. Each problem is reported at the data key that holds it.
 */
export function checkConfigMap(check: Check): void {
  const { name, namespace } = check.resource.metadata;
  const data = check.resource.data ?? {};
  if (name === SERVICES_CONFIG_MAP) checkServices(check, data);
  const template = data[CHANNEL_TEMPLATE_KEY];
  if (template !== undefined) {
    const at = childPath("data", CHANNEL_TEMPLATE_KEY);
    const value = parseAt(check, template, at);
    if (value !== undefined && !asFields(value)) {
      check.report(at, "must be a channel template: a mapping with apiVersion, kind and spec");
    } else if (value !== undefined) {
      const fields = asFields(value)!;
      for (const field of ["apiVersion", "kind"]) {
        if (typeof fields[field] !== "string") {
          check.report(childPath(at, field), "required field is missing");
        }
      }
      checkChannelTemplate(check, value, at);
    }
  }
  if (data["bootstrap.servers"] !== undefined && data["auth.secret.ref.name"] !== undefined) {
    check.warn(
      childPath("data", "auth.secret.ref.name"),
      "standalone Eventail connects to Kafka without SASL or TLS; the Secret is not used",
    );
  }
  if (namespace === KNATIVE_NAMESPACE && name === BROKER_DEFAULTS_CONFIG_MAP) {
    const at = childPath("data", BROKER_DEFAULTS_KEY);
    const text = data[BROKER_DEFAULTS_KEY];
    const value = text === undefined ? undefined : parseAt(check, text, at);
    if (value !== undefined && !asFields(value)) {
      check.report(at, "must be a mapping with clusterDefault and namespaceDefaults");
    }
  }
}

function checkServices(check: Check, data: Readonly<Record<string, string>>): void {
  for (const [service, url] of Object.entries(data)) {
    const at = childPath("data", service);
    if (!DNS1123_LABEL.test(service) || service.length > 63) {
      check.report(at, `${quote(service)} is not a Service name`);
    } else if (!isAbsoluteHttpUrl(url)) {
      check.report(at, `${quote(url)} must be an absolute http(s) URL (the Service's address)`);
    }
  }
}

/** The YAML text of a data key, parsed; a syntax error is reported there. */
function parseAt(check: Check, text: string, at: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    check.report(at, `is not valid YAML: ${reason}`);
    return undefined;
  }
}
