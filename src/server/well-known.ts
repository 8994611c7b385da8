/**
 * Eventail's own token issuer on the HTTP surface (CONTRACT §10): the OpenID discovery document
 * and the JWK Set subscribers verify delivery tokens with. Public by design: they hold only
 * public keys.
 */
import type { FastifyInstance } from "fastify";

export interface IssuerDocuments {
  discovery(): Record<string, unknown>;
  jwks(): { keys: unknown[] };
}

/**
 * Verifiers may cache the set this long; a new key is published well before it signs (the
 * publish-ahead delay of src/security/signing-keys.ts is longer), so a cached set never lacks it.
 */
const CACHE_CONTROL = "public, max-age=300";

export function registerWellKnown(app: FastifyInstance, issuer: IssuerDocuments): void {
  app.get("/.well-known/openid-configuration", async (_request, reply) => {
    reply.header("cache-control", CACHE_CONTROL).send(issuer.discovery());
  });
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply
      .header("cache-control", CACHE_CONTROL)
      .header("content-type", "application/jwk-set+json")
      .send(JSON.stringify(issuer.jwks()));
  });
}
