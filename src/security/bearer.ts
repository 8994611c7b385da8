/**
 * The `Authorization: Bearer <token>` header (RFC 6750 §2.1; the scheme name is
 * case-insensitive, RFC 9110 §11.1). Faces the network: any input gives a result, never a throw.
 */

/** Longer tokens are refused unread: nothing legitimate comes close, and the cache keys hash it. */
export const MAX_TOKEN_LENGTH = 8192;

/** RFC 6750 b64token: the characters a bearer token may hold, then optional `=` padding. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export type BearerToken =
  | { readonly kind: "token"; readonly token: string }
  /** No Bearer credentials at all (no header, or another scheme such as Basic). */
  | { readonly kind: "missing" }
  /** A Bearer header whose token cannot be one. */
  | { readonly kind: "malformed"; readonly reason: string };

const MISSING: BearerToken = Object.freeze({ kind: "missing" });

export function parseBearer(header: string | readonly string[] | undefined): BearerToken {
  if (header === undefined) return MISSING;
  if (typeof header !== "string") {
    return header.length === 0
      ? MISSING
      : { kind: "malformed", reason: "more than one Authorization header" };
  }
  // The usual form first, without the trimming and splitting below: a token that passes
  // B64TOKEN has no white space to trim, so the answer is the one the general path gives.
  if (header.startsWith("Bearer ")) {
    const token = header.slice(7);
    if (token.length > 0 && token.length <= MAX_TOKEN_LENGTH && B64TOKEN.test(token)) {
      return { kind: "token", token };
    }
  }
  const text = header.trim();
  const space = text.search(/[ \t]/);
  const scheme = space === -1 ? text : text.slice(0, space);
  if (scheme.toLowerCase() !== "bearer") return MISSING;
  const token = space === -1 ? "" : text.slice(space + 1).trim();
  if (token === "") return { kind: "malformed", reason: "the Bearer credentials hold no token" };
  if (token.length > MAX_TOKEN_LENGTH) {
    return { kind: "malformed", reason: `the token is longer than ${MAX_TOKEN_LENGTH} characters` };
  }
  if (!B64TOKEN.test(token)) {
    return { kind: "malformed", reason: "the token holds characters a bearer token cannot" };
  }
  return { kind: "token", token };
}
