import { describe, expect, it } from "vitest";
import { parseManifests } from "../../src/resources/loader.js";
import { secretData } from "../../src/resources/secrets.js";
import type { SecretResource } from "../../src/resources/types.js";

function secret(body: string): SecretResource {
  const text = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n${body}`;
  return parseManifests(text, "secret.yaml").resources[0] as SecretResource;
}

describe("secretData", () => {
  it.each([
    ["decodes base64 data", "data:\n  token: c2VjcmV0\n", { token: "secret" }],
    ["takes stringData as written", "stringData:\n  token: plain\n", { token: "plain" }],
    [
      "lets stringData win over data for the same key, as Kubernetes does",
      "data:\n  token: c2VjcmV0\n  user: YWRh\nstringData:\n  token: override\n",
      { token: "override", user: "ada" },
    ],
    ["gives nothing for an empty Secret", "type: Opaque\n", {}],
  ])("%s", (_what, body, expected) => {
    expect(secretData(secret(body))).toEqual(expected);
  });
});
