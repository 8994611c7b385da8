import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { KafkaSecretError, kafkaSecurity } from "../../src/sources/kafka/kafka-auth.js";

describe("kafkaSecurity: a KafkaSink's auth Secret in Knative's keys", () => {
  it.each<[string, Record<string, string>, unknown]>([
    ["PLAINTEXT needs nothing", { protocol: "PLAINTEXT" }, {}],
    [
      "SASL_PLAINTEXT with SCRAM-SHA-256",
      { protocol: "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-256", user: "u", password: "p" },
      { sasl: { mechanism: "scram-sha-256", username: "u", password: "p" } },
    ],
    [
      "SASL_SSL with a CA, PLAIN by default",
      { protocol: "SASL_SSL", user: "u", password: "p", "ca.crt": "CA" },
      { ssl: { ca: ["CA"] }, sasl: { mechanism: "plain", username: "u", password: "p" } },
    ],
    [
      "SSL with a client certificate",
      { protocol: "SSL", "user.crt": "CERT", "user.key": "KEY" },
      { ssl: { cert: "CERT", key: "KEY" } },
    ],
    ["SSL with neither verifies against the system CAs", { protocol: "SSL" }, { ssl: true }],
    [
      "a legacy channel Secret (no protocol) with a password and tls.enabled",
      { username: "u", password: "p", saslType: "SCRAM-SHA-512", "tls.enabled": "true" },
      { ssl: true, sasl: { mechanism: "scram-sha-512", username: "u", password: "p" } },
    ],
  ])("%s", (_name, secret, expected) => {
    expect(kafkaSecurity(secret)).toEqual(expected);
  });

  it.each<[string, Record<string, string>, string]>([
    ["an unknown protocol", { protocol: "TLS" }, "protocol"],
    ["SASL without a user", { protocol: "SASL_SSL", password: "p" }, "user"],
    ["SASL without a password", { protocol: "SASL_PLAINTEXT", user: "u" }, "password"],
    [
      "OAUTHBEARER (not supported)",
      { protocol: "SASL_SSL", "sasl.mechanism": "OAUTHBEARER", user: "u", password: "p" },
      "sasl.mechanism",
    ],
    ["a client certificate without its key", { protocol: "SSL", "user.crt": "C" }, "user.key"],
  ])("refuses %s, naming the key", (_name, secret, key) => {
    expect(() => kafkaSecurity(secret)).toThrow(KafkaSecretError);
    try {
      kafkaSecurity(secret);
    } catch (error) {
      expect((error as KafkaSecretError).key).toBe(key);
    }
  });

  it("property: any Secret gives settings or a KafkaSecretError naming one of its keys", () => {
    const keys = fc.constantFrom(
      "protocol",
      "sasl.mechanism",
      "user",
      "username",
      "password",
      "ca.crt",
      "user.crt",
      "user.key",
      "saslType",
      "tls.enabled",
    );
    const values = fc.oneof(
      fc.constantFrom("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL", "PLAIN", "SCRAM-SHA-256"),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.dictionary(keys, values), (secret) => {
        try {
          const settings = kafkaSecurity(secret);
          if (settings.sasl)
            expect(settings.sasl.mechanism).toMatch(/^(plain|scram-sha-(256|512))$/);
        } catch (error) {
          expect(error).toBeInstanceOf(KafkaSecretError);
          expect([
            "protocol",
            "sasl.mechanism",
            "user",
            "password",
            "user.crt",
            "user.key",
          ]).toContain((error as KafkaSecretError).key);
        }
      }),
    );
  });
});
