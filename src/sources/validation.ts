import { isValidAttributeName } from "../events/event.js";
import { childPath } from "../resources/issue.js";
import type { Resource } from "../resources/types.js";

/**
 * What the per-kind source validators share. Each validator reads the spec defensively (the CRD
 * schema reports wrong types and missing fields) and reports every semantic problem it finds,
 * with its field path, Knative-style.
 */
export interface SourceProblem {
  readonly path: string;
  readonly message: string;
}

export type SourceValidator = (resource: Resource) => SourceProblem[];

export type Fields = Readonly<Record<string, unknown>>;

export class Problems {
  readonly list: SourceProblem[] = [];

  report(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

export function asFields(value: unknown): Fields | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Fields)
    : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function asArray(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

export function specOf(resource: Resource): Fields {
  return asFields(resource.spec) ?? {};
}

export function quote(value: string): string {
  return JSON.stringify(value);
}

/** Kubernetes names a Secret with a DNS-1123 subdomain and its keys with [-._a-zA-Z0-9]+. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

/** `{secretKeyRef: {name, key}}` as Knative sources take tokens. */
export function checkSecretKeyRef(
  problems: Problems,
  value: unknown,
  at: string,
  required: boolean,
): void {
  const holder = asFields(value);
  const ref = asFields(holder?.["secretKeyRef"]);
  if (!ref) {
    if (required && holder) problems.report(`${at}.secretKeyRef`, "required field is missing");
    return;
  }
  const name = asString(ref["name"]);
  const key = asString(ref["key"]);
  if (name !== undefined && !SECRET_NAME.test(name)) {
    problems.report(`${at}.secretKeyRef.name`, `invalid Secret name ${quote(name)}`);
  }
  if (key !== undefined && !SECRET_KEY.test(key)) {
    problems.report(
      `${at}.secretKeyRef.key`,
      `invalid key ${quote(key)}: letters, digits, '-', '_' and '.' only`,
    );
  }
}

/**
 * `ceOverrides.extensions` names must be CloudEvents attribute names. The shared resource rules
 * already check this for sources.knative.dev kinds; eventail.io kinds call it themselves.
 */
export function checkCeOverrides(problems: Problems, spec: Fields): void {
  const extensions = asFields(asFields(spec["ceOverrides"])?.["extensions"]);
  for (const name of Object.keys(extensions ?? {})) {
    if (!isValidAttributeName(name)) {
      problems.report(
        childPath("spec.ceOverrides.extensions", name),
        `invalid extension name ${quote(name)}: only lower-case letters and digits are allowed`,
      );
    }
  }
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
