import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isServiceRef,
  mappedServiceUrl,
  parseServiceFlag,
  parseServiceFlags,
  ServiceFlagError,
} from "../../src/resources/services.js";

describe("parseServiceFlag: eventail run --service NS/NAME=URL", () => {
  it.each([
    [
      "a plain mapping",
      "default/display=http://127.0.0.1:8081",
      "default/display",
      "http://127.0.0.1:8081",
    ],
    [
      "a URL holding '=' and '/' of its own",
      "shop/api=https://api.example.com/v1/hook?a=b",
      "shop/api",
      "https://api.example.com/v1/hook?a=b",
    ],
  ])("reads %s", (_what, value, key, url) => {
    expect(parseServiceFlag(value)).toEqual({ key, url });
  });

  it.each([
    ["no namespace", "display=http://127.0.0.1:8081", "expected NAMESPACE/NAME=URL"],
    ["no URL", "default/display", "expected NAMESPACE/NAME=URL"],
    ["a relative URL", "default/display=/path", "is not an absolute http(s) URL"],
    ["a URL of another scheme", "default/display=ftp://host/", "is not an absolute http(s) URL"],
    ["an upper-case namespace", "Default/display=http://h/", "invalid namespace"],
    ["an empty Service name", "default/=http://h/", "invalid Service name"],
  ])("refuses %s with a one-line message", (_what, value, fragment) => {
    expect(() => parseServiceFlag(value)).toThrow(ServiceFlagError);
    expect(() => parseServiceFlag(value)).toThrow(fragment);
  });

  it("lets a later flag for the same Service replace an earlier one", () => {
    const flags = parseServiceFlags(["a/b=http://one/", "a/b=http://two/"]);
    expect([...flags]).toEqual([["a/b", "http://two/"]]);
  });

  it("either reads or refuses with ServiceFlagError, whatever the text", () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        try {
          const { key, url } = parseServiceFlag(value);
          expect(value).toBe(`${key}=${url}`);
        } catch (error) {
          expect(error).toBeInstanceOf(ServiceFlagError);
          expect((error as Error).message).not.toContain("\n");
        }
      }),
      { numRuns: 5000 },
    );
  });

  it("reads back what was written, for any valid namespace, name and http URL", () => {
    const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
    fc.assert(
      fc.property(label, label, fc.webUrl(), (namespace, name, url) => {
        expect(parseServiceFlag(`${namespace}/${name}=${url}`)).toEqual({
          key: `${namespace}/${name}`,
          url,
        });
      }),
      { numRuns: 1000 },
    );
  });
});

describe("mappedServiceUrl: the flag, then ConfigMap eventail-services", () => {
  const configMaps: Record<string, Record<string, string>> = {
    shop: { display: "http://from-configmap/", other: "http://other/" },
  };
  const flags = new Map([["shop/display", "http://from-flag/"]]);
  it.each([
    ["a flag wins over the ConfigMap", "shop", "display", "http://from-flag/"],
    ["the ConfigMap serves what no flag maps", "shop", "other", "http://other/"],
    ["nothing maps a Service of another namespace", "audit", "display", undefined],
  ])("%s", (_what, namespace, name, expected) => {
    expect(mappedServiceUrl(namespace, name, flags, (ns) => configMaps[ns])).toBe(expected);
  });
});

describe("isServiceRef", () => {
  it.each([
    ["v1", "Service", true],
    ["serving.knative.dev/v1", "Service", true],
    ["serving.knative.dev/v1beta1", "Service", false],
    ["v1", "Pod", false],
  ])("%s %s is %s", (apiVersion, kind, expected) => {
    expect(isServiceRef({ apiVersion, kind })).toBe(expected);
  });
});
