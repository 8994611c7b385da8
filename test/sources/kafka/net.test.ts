import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MissingReferenceError } from "../../../src/resources/missing-reference.js";
import {
  KafkaNetError,
  type KafkaNetSpec,
  kafkaNetSecurity,
} from "../../../src/sources/kafka/net.js";

const SECRETS: Record<string, Record<string, string>> = {
  certs: { "ca.crt": "CA", "tls.crt": "CERT", "tls.key": "KEY", empty: "" },
  login: { user: "u", password: "p", scram: "SCRAM-SHA-256", bad: "GSSAPI" },
};
const lookup = (name: string) => SECRETS[name];
const ref = (name: string, key: string, optional?: boolean) => ({
  secretKeyRef: { name, key, ...(optional === undefined ? {} : { optional }) },
});

describe("kafkaNetSecurity: a KafkaSource's spec.net as kafkajs settings", () => {
  it.each<[string, KafkaNetSpec | undefined, unknown]>([
    ["no net: plain text", undefined, {}],
    [
      "nothing enabled: plain text, whatever refs are set",
      { tls: { caCert: ref("gone", "x") } },
      {},
    ],
    ["TLS alone verifies against the system CAs", { tls: { enable: true } }, { ssl: true }],
    [
      "TLS with caCert and a client certificate",
      {
        tls: {
          enable: true,
          caCert: ref("certs", "ca.crt"),
          cert: ref("certs", "tls.crt"),
          key: ref("certs", "tls.key"),
        },
      },
      { ssl: { ca: ["CA"], cert: "CERT", key: "KEY" } },
    ],
    [
      "SASL without type is PLAIN, over plain text",
      { sasl: { enable: true, user: ref("login", "user"), password: ref("login", "password") } },
      { sasl: { mechanism: "plain", username: "u", password: "p" } },
    ],
    [
      "SASL SCRAM over TLS",
      {
        sasl: {
          enable: true,
          user: ref("login", "user"),
          password: ref("login", "password"),
          type: ref("login", "scram"),
        },
        tls: { enable: true },
      },
      { ssl: true, sasl: { mechanism: "scram-sha-256", username: "u", password: "p" } },
    ],
    [
      "an optional ref to a missing Secret is left out",
      { tls: { enable: true, caCert: ref("gone", "ca.crt", true) } },
      { ssl: true },
    ],
  ])("%s", (_what, net, expected) => {
    expect(kafkaNetSecurity(net, "shop", lookup)).toEqual(expected);
  });

  it("a Secret not among the resources is a MissingReferenceError naming the field", () => {
    const net = { tls: { enable: true, caCert: ref("gone", "ca.crt") } };
    expect(() => kafkaNetSecurity(net, "shop", lookup)).toThrow(MissingReferenceError);
    try {
      kafkaNetSecurity(net, "shop", lookup);
    } catch (error) {
      expect(error).toMatchObject({
        target: { kind: "Secret", namespace: "shop", name: "gone" },
        path: "spec.net.tls.caCert.secretKeyRef.name",
      });
    }
  });

  it.each<[string, KafkaNetSpec, string]>([
    [
      "a key the Secret lacks",
      { tls: { enable: true, caCert: ref("certs", "nope") } },
      "spec.net.tls.caCert.secretKeyRef.key",
    ],
    [
      "an empty value, as Knative refuses",
      { tls: { enable: true, caCert: ref("certs", "empty") } },
      "spec.net.tls.caCert.secretKeyRef.key",
    ],
    [
      "a certificate without its key",
      { tls: { enable: true, cert: ref("certs", "tls.crt") } },
      "spec.net.tls.key",
    ],
    [
      "SASL without a password",
      { sasl: { enable: true, user: ref("login", "user") } },
      "spec.net.sasl.password",
    ],
    [
      "a SASL mechanism Eventail does not run",
      {
        sasl: {
          enable: true,
          user: ref("login", "user"),
          password: ref("login", "password"),
          type: ref("login", "bad"),
        },
      },
      "spec.net.sasl.type",
    ],
  ])("refuses %s, naming the field", (_what, net, path) => {
    expect(() => kafkaNetSecurity(net, "shop", lookup)).toThrow(KafkaNetError);
    try {
      kafkaNetSecurity(net, "shop", lookup);
    } catch (error) {
      expect((error as KafkaNetError).path).toBe(path);
    }
  });

  it("property: any spec.net gives settings that verify the broker, or a reasoned error", () => {
    const value = fc.option(
      fc.record(
        {
          secretKeyRef: fc.record(
            {
              name: fc.constantFrom("certs", "login", "gone", ""),
              key: fc.constantFrom(
                "ca.crt",
                "tls.crt",
                "tls.key",
                "user",
                "password",
                "scram",
                "bad",
                "empty",
                "x",
              ),
              optional: fc.boolean(),
            },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    );
    const part = (fields: string[]) =>
      fc.record(
        Object.fromEntries([["enable", fc.boolean()], ...fields.map((field) => [field, value])]),
        { requiredKeys: [] },
      );
    const net = fc.record(
      { sasl: part(["user", "password", "type"]), tls: part(["cert", "key", "caCert"]) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(net, (spec) => {
        try {
          const settings = kafkaNetSecurity(spec as KafkaNetSpec, "shop", lookup);
          const ssl = settings.ssl;
          if (typeof ssl === "object") expect(ssl.rejectUnauthorized).not.toBe(false);
        } catch (error) {
          expect(error instanceof KafkaNetError || error instanceof MissingReferenceError).toBe(
            true,
          );
        }
      }),
    );
  });
});
