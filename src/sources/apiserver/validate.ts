import { isHttpUrl } from "../../resources/addresses.js";
import {
  asArray,
  asFields,
  asString,
  type Check,
  type Fields,
  quote,
} from "../../resources/rules/check.js";
import { APISERVER_URL_ANNOTATION, KUBECONFIG_ANNOTATION } from "./annotations.js";
import { isLabelKey, isLabelValue } from "./label-selector.js";

const API_VERSION =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?v[0-9]+((alpha|beta)[0-9]+)?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

function checkLabelSelector(check: Check, value: unknown, at: string): void {
  const selector = asFields(value);
  if (!selector) return;
  for (const [key, label] of Object.entries(asFields(selector["matchLabels"]) ?? {})) {
    if (!isLabelKey(key))
      check.report(`${at}.matchLabels[${key}]`, `invalid label key ${quote(key)}`);
    if (typeof label === "string" && !isLabelValue(label)) {
      check.report(`${at}.matchLabels[${key}]`, `invalid label value ${quote(label)}`);
    }
  }
  asArray(selector["matchExpressions"]).forEach((item, index) => {
    const expression = asFields(item);
    if (!expression) return;
    const path = `${at}.matchExpressions[${index}]`;
    const key = asString(expression["key"]);
    const operator = asString(expression["operator"]);
    const values = asArray(expression["values"]);
    if (key !== undefined && !isLabelKey(key))
      check.report(`${path}.key`, `invalid label key ${quote(key)}`);
    if ((operator === "In" || operator === "NotIn") && values.length === 0) {
      check.report(`${path}.values`, `must not be empty for operator ${operator}`);
    }
    if ((operator === "Exists" || operator === "DoesNotExist") && values.length > 0) {
      check.report(`${path}.values`, `must be empty for operator ${operator}`);
    }
    values.forEach((v, i) => {
      if (typeof v === "string" && !isLabelValue(v)) {
        check.report(`${path}.values[${i}]`, `invalid label value ${quote(v)}`);
      }
    });
  });
}

/** ApiServerSource rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  asArray(spec["resources"]).forEach((item, index) => {
    const entry = asFields(item);
    if (!entry) return;
    const at = `spec.resources[${index}]`;
    const apiVersion = asString(entry["apiVersion"]);
    const kind = asString(entry["kind"]);
    if (apiVersion !== undefined && !API_VERSION.test(apiVersion)) {
      check.report(`${at}.apiVersion`, `${quote(apiVersion)} is not "v1" or "group/version"`);
    }
    if (kind !== undefined && !KIND.test(kind)) {
      check.report(
        `${at}.kind`,
        `${quote(kind)} is not a Kubernetes kind (like Pod or Deployment)`,
      );
    }
    checkLabelSelector(check, entry["selector"], `${at}.selector`);
  });
  checkLabelSelector(check, spec["namespaceSelector"], "spec.namespaceSelector");
  const owner = asFields(spec["owner"]);
  const ownerVersion = asString(owner?.["apiVersion"]);
  if (ownerVersion !== undefined && !API_VERSION.test(ownerVersion)) {
    check.report("spec.owner.apiVersion", `${quote(ownerVersion)} is not "v1" or "group/version"`);
  }
  const annotations = check.resource.metadata.annotations ?? {};
  const url = annotations[APISERVER_URL_ANNOTATION];
  const kubeconfig = annotations[KUBECONFIG_ANNOTATION];
  if (url !== undefined && !isHttpUrl(url)) {
    check.report(
      `metadata.annotations[${APISERVER_URL_ANNOTATION}]`,
      `${quote(url)} must be an absolute http(s) URL`,
    );
  }
  if (kubeconfig !== undefined && kubeconfig.trim() === "") {
    check.report(
      `metadata.annotations[${KUBECONFIG_ANNOTATION}]`,
      "must be a kubeconfig file path",
    );
  }
  if (url !== undefined && kubeconfig !== undefined) {
    check.report(
      `metadata.annotations[${APISERVER_URL_ANNOTATION}]`,
      `set ${APISERVER_URL_ANNOTATION} or ${KUBECONFIG_ANNOTATION}, not both`,
    );
  }
}
