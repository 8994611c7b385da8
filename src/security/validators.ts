/**
 * Manifest rules of CONTRACT §10 that concern core kinds: the feature flags in `config-features`
 * and the keys in the Secret `eventail-signing-key`. Handed to validateResources beside the
 * sources' rules (src/runtime/configuration.ts), so `eventail validate` reports them too.
 */
import { featureIssues, isFeaturesConfigMap } from "../resources/features.js";
import { childPath } from "../resources/issue.js";
import type { ResourceRule } from "../resources/rules/check.js";
import { secretData } from "../resources/secrets.js";
import type { SecretResource } from "../resources/types.js";
import { PUBLISH_AHEAD_ANNOTATION, publishAheadOf, SIGNING_SECRET_NAME } from "./key-store.js";
import { loadSigningKey } from "./signing-keys.js";

const checkFeatures: ResourceRule = (check) => {
  if (!isFeaturesConfigMap(check.resource)) return;
  for (const { key, message } of featureIssues(check.resource.data)) {
    check.report(childPath("data", key), message);
  }
};

const checkSigningKeySecret: ResourceRule = (check) => {
  const secret = check.resource as SecretResource;
  if (secret.metadata.name !== SIGNING_SECRET_NAME) return;
  const data = secretData(secret);
  const keys = Object.keys(data).filter((name) => name.endsWith(".pem"));
  if (keys.length === 0) {
    check.report("data", "holds no *.pem entry: give at least one PEM EC P-256 private key");
  }
  for (const name of keys) {
    try {
      loadSigningKey(name, data[name]!);
    } catch (error) {
      const field = secret.stringData?.[name] !== undefined ? "stringData" : "data";
      check.report(childPath(field, name), (error as Error).message);
    }
  }
  const annotation = secret.metadata.annotations?.[PUBLISH_AHEAD_ANNOTATION];
  if (annotation !== undefined && publishAheadOf(secret) === undefined) {
    check.report(
      childPath("metadata.annotations", PUBLISH_AHEAD_ANNOTATION),
      `must be an ISO-8601 duration like PT10M (got ${JSON.stringify(annotation)})`,
    );
  }
};

export const SECURITY_VALIDATORS: Readonly<Record<string, ResourceRule>> = {
  ConfigMap: checkFeatures,
  Secret: checkSigningKeySecret,
};
