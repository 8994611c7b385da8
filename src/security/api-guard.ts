/**
 * The guard of the operations API (`/api/v1`, CONTRACT §10 and §11): with authentication on, a
 * token whose `aud` is `eventail:api`; reading needs nothing more, changing what happens to
 * events (redrive, replay) needs the claim `"eventail.io/role": "admin"`.
 */
import { parseBearer } from "./bearer.js";
import { AuthenticationError, AuthorizationError } from "./errors.js";
import type { TokenVerifier, VerifiedToken } from "./token-verifier.js";

export const API_AUDIENCE = "eventail:api";
export const ROLE_CLAIM = "eventail.io/role";
export const ADMIN_ROLE = "admin";

/** What a route of the API does: `read` (get, describe, tail, trace) or `admin` (redrive, replay). */
export type ApiAccess = "read" | "admin";

export interface ApiGuardDeps {
  /** config-features `authentication-oidc` is enabled. */
  enabled(): boolean;
  readonly verifier: TokenVerifier;
}

/**
 * Resolves with the caller's verified token, or undefined when authentication is off; rejects
 * with AuthenticationError (401) or AuthorizationError (403).
 */
export async function guardApiRequest(
  deps: ApiGuardDeps,
  authorization: string | readonly string[] | undefined,
  access: ApiAccess,
): Promise<VerifiedToken | undefined> {
  if (!deps.enabled()) return undefined;
  const bearer = parseBearer(authorization);
  if (bearer.kind === "missing") {
    throw new AuthenticationError("the operations API needs a bearer token", false);
  }
  if (bearer.kind === "malformed") throw new AuthenticationError(bearer.reason, true);
  const token = await deps.verifier.verify(bearer.token, API_AUDIENCE);
  if (access === "admin" && token.claims[ROLE_CLAIM] !== ADMIN_ROLE) {
    throw new AuthorizationError(
      `${token.sub} may read the operations API but not redrive or replay: that needs the claim "${ROLE_CLAIM}": "${ADMIN_ROLE}"`,
      token.sub,
    );
  }
  return token;
}
