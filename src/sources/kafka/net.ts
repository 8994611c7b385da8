/**
 * A KafkaSource's `spec.net` (Knative's KafkaNetSpec: `sasl` and `tls`, each value a
 * `secretKeyRef`) read as Knative reads it (eventing-kafka-broker's
 * control-plane/pkg/security/secrets_provider_net_spec.go): the referenced values are gathered into
 * one Secret in the KafkaSink auth keys (`protocol`, `user.crt`, `user.key`, `ca.crt`,
 * `sasl.mechanism`, `user`, `password`), which kafka-auth.ts turns into kafkajs settings. TLS
 * verifies the brokers against `caCert` (else the system CAs), never skipping verification.
 * Pure: the Secrets come from the caller.
 */
import { MissingReferenceError } from "../../resources/missing-reference.js";
import { KafkaSecretError, type KafkaSecurity, kafkaSecurity } from "./kafka-auth.js";

interface SecretKeyRef {
  readonly name?: string;
  readonly key?: string;
  readonly optional?: boolean;
}

type SecretValue = { readonly secretKeyRef?: SecretKeyRef } | undefined;

export interface KafkaNetSpec {
  readonly sasl?: {
    readonly enable?: boolean;
    readonly user?: SecretValue;
    readonly password?: SecretValue;
    readonly type?: SecretValue;
    readonly roleARN?: SecretValue;
    readonly tokenProvider?: SecretValue;
  };
  readonly tls?: {
    readonly enable?: boolean;
    readonly cert?: SecretValue;
    readonly key?: SecretValue;
    readonly caCert?: SecretValue;
  };
}

/** Every key of a Secret of the source's namespace, or undefined when there is none. */
export type SecretLookup = (name: string) => Readonly<Record<string, string>> | undefined;

/** A value of `spec.net` that cannot be used; `path` is the field at fault. */
export class KafkaNetError extends Error {
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(`${path}: ${reason}`);
    this.name = "KafkaNetError";
  }
}

/** Which Secret key of the virtual Secret each `spec.net` field fills (Knative's mapping). */
const FIELDS = [
  ["tls", "cert", "user.crt"],
  ["tls", "key", "user.key"],
  ["tls", "caCert", "ca.crt"],
  ["sasl", "type", "sasl.mechanism"],
  ["sasl", "user", "user"],
  ["sasl", "password", "password"],
] as const;

/** Where a key of the virtual Secret came from, to name the field when kafka-auth.ts refuses it. */
const FIELD_OF_KEY: Readonly<Record<string, string>> = {
  protocol: "spec.net",
  "user.crt": "spec.net.tls.cert",
  "user.key": "spec.net.tls.key",
  "ca.crt": "spec.net.tls.caCert",
  "sasl.mechanism": "spec.net.sasl.type",
  user: "spec.net.sasl.user",
  password: "spec.net.sasl.password",
};

/** The enabled parts of `spec.net` whose credentials Eventail cannot use standalone. */
export function unsupportedNet(net: KafkaNetSpec | undefined): { path: string; message: string }[] {
  if (net?.sasl?.enable !== true) return [];
  return (["roleARN", "tokenProvider"] as const)
    .filter((field) => net.sasl?.[field]?.secretKeyRef?.name)
    .map((field) => ({
      path: `spec.net.sasl.${field}`,
      message:
        "AWS MSK IAM authentication is not run standalone; use SASL user and password " +
        "(sasl.type PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) or TLS client certificates",
    }));
}

/**
 * The kafkajs settings of `spec.net`. Throws MissingReferenceError when a Secret it names is not
 * among the resources (the source waits for it), KafkaNetError when a value cannot be used.
 * Only the enabled parts are read; with neither enabled the connection is plain text.
 */
export function kafkaNetSecurity(
  net: KafkaNetSpec | undefined,
  namespace: string,
  secret: SecretLookup,
): KafkaSecurity {
  const sasl = net?.sasl?.enable === true;
  const tls = net?.tls?.enable === true;
  if (!sasl && !tls) return {};
  const virtual: Record<string, string> = {
    protocol: sasl && tls ? "SASL_SSL" : sasl ? "SASL_PLAINTEXT" : "SSL",
  };
  for (const [part, field, key] of FIELDS) {
    if ((part === "sasl" && !sasl) || (part === "tls" && !tls)) continue;
    const ref = net?.[part]?.[field as never] as SecretValue;
    const value = secretValue(ref?.secretKeyRef, namespace, secret, `spec.net.${part}.${field}`);
    if (value !== undefined) virtual[key] = value;
  }
  try {
    return kafkaSecurity(virtual);
  } catch (error) {
    if (!(error instanceof KafkaSecretError)) throw error;
    throw new KafkaNetError(error.message, FIELD_OF_KEY[error.key] ?? "spec.net");
  }
}

function secretValue(
  ref: SecretKeyRef | undefined,
  namespace: string,
  secret: SecretLookup,
  path: string,
): string | undefined {
  if (!ref?.name || ref.key === undefined) return undefined;
  const data = secret(ref.name);
  if (data === undefined) {
    if (ref.optional === true) return undefined;
    throw new MissingReferenceError("Secret", namespace, ref.name, `${path}.secretKeyRef.name`);
  }
  const value = data[ref.key];
  // Knative refuses an empty value as it refuses a missing key.
  if (value === undefined || value === "") {
    if (ref.optional === true) return undefined;
    throw new KafkaNetError(
      `Secret ${namespace}/${ref.name} has no key ${JSON.stringify(ref.key)} (or it is empty)`,
      `${path}.secretKeyRef.key`,
    );
  }
  return value;
}
