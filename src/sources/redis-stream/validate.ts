import { asFields, asString, type Check, type Fields, quote } from "../../resources/rules/check.js";
import { checkSecretKeyRef } from "../../resources/rules/secret-ref.js";

const HOST_PORT = /^[A-Za-z0-9.-]+:[0-9]{1,5}$/;

/**
 * eventing-redis's connection fields, for RedisStreamSource and RedisStreamSink: a `redis://` or
 * `rediss://` address, and dialOptions whose Secrets exist. TLS is always verified, so
 * `skipVerify: true` is refused; `password` (an object reference eventing-redis itself never
 * reads) is accepted with a warning.
 */
export function checkRedisConnection(check: Check, spec: Fields): void {
  const address = asString(spec["address"]);
  if (address !== undefined) {
    const scheme = URL.canParse(address) ? new URL(address).protocol : undefined;
    // eventing-redis dials a bare `host:port` over TCP (its own e2e manifests use that form).
    if (scheme !== "redis:" && scheme !== "rediss:" && !HOST_PORT.test(address)) {
      check.report(
        "spec.address",
        "must be host:port or a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379 (credentials in the URL)",
      );
    }
  }
  const dial = asFields(spec["dialOptions"]);
  if (!dial) return;
  if (dial["skipVerify"] === true) {
    check.report("spec.dialOptions.skipVerify", "TLS certificates are always verified; set caCert");
  }
  if (dial["password"] !== undefined) {
    check.warn(
      "spec.dialOptions.password",
      "not used (eventing-redis does not read it either); put the password in spec.address",
    );
  }
  for (const field of ["caCert", "cert", "key"]) {
    const at = `spec.dialOptions.${field}`;
    checkSecretKeyRef(check, dial[field], at, true);
    const ref = asFields(asFields(dial[field])?.["secretKeyRef"]);
    const name = asString(ref?.["name"]);
    const key = asString(ref?.["key"]);
    if (name === undefined || key === undefined) continue;
    const secret = check.find("Secret", check.namespace, name);
    if (!secret)
      check.report(`${at}.secretKeyRef.name`, `Secret ${check.namespace}/${name} not found`);
    else if (!hasKey(secret, key)) {
      check.report(
        `${at}.secretKeyRef.key`,
        `Secret ${check.namespace}/${name} has no key ${quote(key)}`,
      );
    }
  }
  if ((asFields(dial["cert"]) === undefined) !== (asFields(dial["key"]) === undefined)) {
    check.report("spec.dialOptions", "cert and key go together (client certificate)");
  }
}

/** RedisStreamSource rules beyond its schema. */
export function validate(check: Check, spec: Fields): void {
  checkRedisConnection(check, spec);
}

function hasKey(secret: { data?: unknown; stringData?: unknown }, key: string): boolean {
  return (
    Object.hasOwn(asFields(secret.data) ?? {}, key) ||
    Object.hasOwn(asFields(secret.stringData) ?? {}, key)
  );
}
