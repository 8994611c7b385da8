import { asFields, asString, type Check, quote } from "./check.js";

/** Kubernetes names a Secret with a DNS-1123 subdomain and its keys with [-._a-zA-Z0-9]+. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** `{secretKeyRef: {name, key}}`, as Knative sources take tokens. */
export function checkSecretKeyRef(
  check: Check,
  value: unknown,
  at: string,
  required: boolean,
): void {
  const holder = asFields(value);
  const ref = asFields(holder?.["secretKeyRef"]);
  if (!ref) {
    if (required && holder) check.report(`${at}.secretKeyRef`, "required field is missing");
    return;
  }
  const name = asString(ref["name"]);
  const key = asString(ref["key"]);
  if (name !== undefined && !SECRET_NAME.test(name)) {
    check.report(`${at}.secretKeyRef.name`, `invalid Secret name ${quote(name)}`);
  }
  if (key !== undefined && !SECRET_KEY.test(key)) {
    check.report(
      `${at}.secretKeyRef.key`,
      `invalid key ${quote(key)}: letters, digits, '-', '_' and '.' only`,
    );
  }
}
