import { describe, expect, it } from "vitest";
import { type ApiAccess, guardApiRequest } from "../../src/security/api-guard.js";
import { AuthenticationError, AuthorizationError } from "../../src/security/errors.js";
import { apiTokens } from "./support.js";

const ISSUER = "http://eventail.test";

function setUp(enabled = true) {
  const { verifier, bearer } = apiTokens(ISSUER);
  return { deps: { enabled: () => enabled, verifier }, bearer };
}

describe("the /api/v1 guard", () => {
  it("lets everything through with authentication off", async () => {
    const { deps } = setUp(false);
    await expect(guardApiRequest(deps, undefined, "admin")).resolves.toBeUndefined();
  });

  it.each<
    [
      string,
      (b: ReturnType<typeof setUp>["bearer"]) => string | undefined,
      ApiAccess,
      "ok" | 401 | 403,
    ]
  >([
    ["no token, to read", () => undefined, "read", 401],
    ["a malformed header", () => "Bearer a b", "read", 401],
    [
      "a token for a data-plane address",
      (b) => b({ aud: "eventing.knative.dev/broker/default/orders" }),
      "read",
      401,
    ],
    ["an eventail:api token, to read", (b) => b(), "read", "ok"],
    ["an eventail:api token without the admin claim, to redrive", (b) => b(), "admin", 403],
    [
      "an admin claim of another value, to replay",
      (b) => b({ "eventail.io/role": "viewer" }),
      "admin",
      403,
    ],
    ["an admin token, to redrive", (b) => b({ "eventail.io/role": "admin" }), "admin", "ok"],
  ])("%s → %s", async (_name, header, access, expected) => {
    const { deps, bearer } = setUp();
    const result = guardApiRequest(deps, header(bearer), access);
    if (expected === "ok") {
      await expect(result).resolves.toMatchObject({ sub: "ops" });
    } else {
      await expect(result).rejects.toBeInstanceOf(
        expected === 401 ? AuthenticationError : AuthorizationError,
      );
    }
  });
});
