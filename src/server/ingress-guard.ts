/**
 * Authentication and authorization of the data plane (CONTRACT §10), for every address whatever
 * its kind: a request is matched to its address by path (the route's pattern with its parameters
 * filled in), and the security domain says whether its token and its events may pass. The ingress
 * door applies it to the routes it serves; `guardFastifyRoutes` to the addresses other surfaces
 * serve through fastify (sinks and the like). Webhook sources are no address: they keep their
 * own checks.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyInstance } from "fastify";
import type { CloudEvent } from "../events/event.js";
import { decodeHttpRequest } from "../events/http-binding.js";
import type { GuardedAddress } from "../security/address-book.js";
import { AuthenticationError } from "../security/errors.js";
import type { VerifiedToken } from "../security/token-verifier.js";
import { type HttpError, toHttpError } from "./errors.js";

/** What the HTTP surfaces ask of the security domain (src/security/security.ts). */
export interface IngressGuard {
  /** config-features `authentication-oidc: enabled`. */
  enabled(): boolean;
  addressAt(path: string): GuardedAddress | undefined;
  /** Synchronous when the token is cached; throws or rejects with AuthenticationError. */
  authenticate(
    address: GuardedAddress,
    authorization: string | readonly string[] | undefined,
  ): VerifiedToken | Promise<VerifiedToken>;
  /** Throws AuthorizationError unless these events may pass. */
  authorize(address: GuardedAddress, token: VerifiedToken, events: readonly CloudEvent[]): void;
}

/** A request whose token verified for its address: what authorizing its events needs. */
export interface Admitted {
  readonly address: GuardedAddress;
  readonly token: VerifiedToken;
}

/**
 * A pattern split once into literal text (even indexes) and parameter names (odd ones): the
 * ingress fills one in on every authenticated request. Patterns come from the route tables, so
 * the map stays small; the bound only guards against a caller that makes them up.
 */
const templates = new Map<string, readonly string[]>();
const MAX_TEMPLATES = 1_000;

/** `/flows/:namespace/sequences/:name` with its parameters → `/flows/ns/sequences/name`. */
export function routePath(pattern: string, params: Readonly<Record<string, string>>): string {
  let parts = templates.get(pattern);
  if (parts === undefined) {
    parts = pattern.split(/:([A-Za-z0-9_]+)/);
    if (templates.size >= MAX_TEMPLATES) templates.clear();
    templates.set(pattern, parts);
  }
  let path = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) {
    const name = parts[i]!;
    path += (params[name] ?? `:${name}`) + parts[i + 1]!;
  }
  return path;
}

/**
 * The authentication of a request to `path`: undefined when authentication is off, else the
 * admitted token (a promise when it had to be verified) or the error to answer with.
 */
export function authenticateRequest(
  guard: IngressGuard | undefined,
  path: string,
  headers: IncomingHttpHeaders,
): Admitted | HttpError | Promise<Admitted | HttpError> | undefined {
  if (guard === undefined || !guard.enabled()) return undefined;
  const address = guard.addressAt(path);
  if (address === undefined) {
    // Served but unknown to the guard: a kind missing from the address table. Refuse, not pass.
    return toHttpError(
      new AuthenticationError(
        `${path} has no audience; it cannot take authenticated requests`,
        false,
      ),
    );
  }
  try {
    const token = guard.authenticate(address, headers.authorization);
    if (!(token instanceof Promise)) return { address, token };
    return token.then(
      (verified) => ({ address, token: verified }),
      (error: unknown) => toHttpError(error),
    );
  } catch (error) {
    return toHttpError(error);
  }
}

/**
 * Guards POSTs to fastify routes whose path is an address (an IntegrationSink's `/sinks/...`):
 * the token as the request arrives, before any of its body is read (a client without one must
 * not make the server buffer what it sends), then the events the body carries. A body that does
 * not decode is left to the handler, which answers 400.
 */
export function guardFastifyRoutes(app: FastifyInstance, guard: IngressGuard): void {
  const admittedOf = new WeakMap<object, Admitted>();
  app.addHook("onRequest", async (request) => {
    if (request.method !== "POST" || !guard.enabled()) return;
    const pattern = request.routeOptions.url;
    if (pattern === undefined) return;
    const path = routePath(pattern, request.params as Record<string, string>);
    if (guard.addressAt(path) === undefined) return;
    const admitted = await admit(guard, path, request.headers);
    if (admitted !== undefined) admittedOf.set(request, admitted);
  });
  app.addHook("preHandler", async (request) => {
    const admitted = admittedOf.get(request);
    if (admitted === undefined) return;
    let events: CloudEvent[];
    try {
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      events = decodeHttpRequest(request.headers, body).events;
    } catch {
      return;
    }
    guard.authorize(admitted.address, admitted.token, events);
  });
}

/**
 * The token of a request to the address at `path` (undefined with authentication off); throws
 * the error to answer with (401) when it has none that verifies.
 */
export async function admit(
  guard: IngressGuard | undefined,
  path: string,
  headers: IncomingHttpHeaders,
): Promise<Admitted | undefined> {
  const admitted = await authenticateRequest(guard, path, headers);
  if (admitted !== undefined && !("token" in admitted)) throw admitted;
  return admitted;
}
