import type { KafkaConfig, SASLOptions } from "kafkajs";

/**
 * The connection settings a KafkaSink's `spec.auth.secret.ref` Secret holds, in Knative's keys
 * (eventing-kafka-broker's control-plane/pkg/security): `protocol` PLAINTEXT | SASL_PLAINTEXT |
 * SSL | SASL_SSL; `sasl.mechanism` PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 with `user` and
 * `password`; `ca.crt`, `user.crt` and `user.key` (PEM) for TLS. Legacy channel secrets
 * (`username`, `saslType`, `tls.enabled`) are read too. A KafkaSource's `spec.net` becomes such a
 * Secret too (net.ts), as Knative builds one. Pure: no client, no I/O.
 */
export type KafkaSecurity = Pick<KafkaConfig, "ssl" | "sasl">;

export const PROTOCOLS = ["PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"] as const;
export const SASL_MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] as const;

/** A Secret key whose value cannot be used; `key` names it. */
export class KafkaSecretError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = "KafkaSecretError";
  }
}

export function kafkaSecurity(secret: Readonly<Record<string, string>>): KafkaSecurity {
  const protocol = secret["protocol"] ?? legacyProtocol(secret);
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new KafkaSecretError(
      `protocol ${JSON.stringify(protocol)} is not one of ${PROTOCOLS.join(", ")}`,
      "protocol",
    );
  }
  const out: { ssl?: KafkaConfig["ssl"]; sasl?: SASLOptions } = {};
  if (protocol === "SSL" || protocol === "SASL_SSL") {
    const ca = secret["ca.crt"];
    const cert = secret["user.crt"];
    const key = secret["user.key"];
    if ((cert === undefined) !== (key === undefined)) {
      throw new KafkaSecretError(
        "user.crt and user.key go together (client certificate)",
        cert === undefined ? "user.crt" : "user.key",
      );
    }
    // Without ca.crt the system CAs verify the brokers; verification is never turned off.
    out.ssl =
      ca === undefined && cert === undefined
        ? true
        : {
            ...(ca === undefined ? {} : { ca: [ca] }),
            ...(cert === undefined || key === undefined ? {} : { cert, key }),
          };
  }
  if (protocol === "SASL_PLAINTEXT" || protocol === "SASL_SSL") out.sasl = sasl(secret);
  return out;
}

function sasl(secret: Readonly<Record<string, string>>): SASLOptions {
  const mechanism = secret["sasl.mechanism"] ?? secret["sasltype"] ?? secret["saslType"] ?? "PLAIN";
  const username = secret["user"] ?? secret["username"];
  const password = secret["password"];
  if (username === undefined) throw new KafkaSecretError("SASL needs a user", "user");
  if (password === undefined) throw new KafkaSecretError("SASL needs a password", "password");
  switch (mechanism) {
    case "PLAIN":
      return { mechanism: "plain", username, password };
    case "SCRAM-SHA-256":
      return { mechanism: "scram-sha-256", username, password };
    case "SCRAM-SHA-512":
      return { mechanism: "scram-sha-512", username, password };
    default:
      throw new KafkaSecretError(
        `sasl.mechanism ${JSON.stringify(mechanism)} is not one of ${SASL_MECHANISMS.join(", ")}`,
        "sasl.mechanism",
      );
  }
}

/** Knative's older channel secrets say what they use by the keys they have. */
function legacyProtocol(secret: Readonly<Record<string, string>>): string {
  const tls = secret["tls.enabled"] === "true" || secret["ca.crt"] !== undefined;
  const saslSet = secret["password"] !== undefined;
  if (tls && saslSet) return "SASL_SSL";
  if (saslSet) return "SASL_PLAINTEXT";
  return tls ? "SSL" : "PLAINTEXT";
}
