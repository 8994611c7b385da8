/**
 * RequestReply correlation ids: `{event id}:{instance}:{nonce}:{mac}`.
 *
 * Knative sets `{event id}:{AES-GCM of the id}:{replica index}` and checks that the decrypted id
 * matches, so only the RequestReply can mint an id a reply is accepted for. Eventail keeps that
 * shape — the request's id first, then what routes the reply to the process that holds the
 * request, then proof — with an HMAC-SHA256 over all of it, keyed with the RequestReply's key:
 *
 * - `instance` names one RequestReply in one process (Knative's replica index), so each process
 *   keeps the replies meant for it and ignores the others' without a word;
 * - `nonce` is random per request and names the waiting request, so two requests that carry the
 *   same event id never take each other's reply;
 * - `mac` binds the RequestReply (namespace/name), instance, nonce and event id: a forged or
 *   altered id does not verify and the reply is ignored.
 *
 * The event id may hold `:`; the other parts never do, so an id is read from the right.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface CorrelationKeys {
  /** Signs new correlation ids. */
  readonly signing: Buffer;
  /** Verifies replies: the signing key and any still accepted (a rotation in progress). */
  readonly verifying: readonly Buffer[];
}

export interface Correlation {
  readonly eventId: string;
  readonly instance: string;
  readonly nonce: string;
}

const INSTANCE = /^[a-z0-9]{1,32}$/;
const NONCE_BYTES = 12;
const MAC_BYTES = 16;
/** base64url of 12 and 16 bytes, unpadded. */
const NONCE = /^[A-Za-z0-9_-]{16}$/;
const MAC = /^[A-Za-z0-9_-]{22}$/;
const DOMAIN = "eventail.requestreply.v1";

/** A new correlation id for `eventId`, and the nonce the waiting request is kept under. */
export function mintCorrelationId(
  scope: string,
  eventId: string,
  instance: string,
  key: Buffer,
): { readonly id: string; readonly nonce: string } {
  if (!INSTANCE.test(instance)) throw new Error(`invalid instance ${JSON.stringify(instance)}`);
  const nonce = randomBytes(NONCE_BYTES).toString("base64url");
  const mac = macOf(scope, { eventId, instance, nonce }, key).toString("base64url");
  return { id: `${eventId}:${instance}:${nonce}:${mac}`, nonce };
}

/**
 * Reads a reply attribute's value: the correlation it names and the MAC to check, or undefined
 * when it is not a correlation id at all. Never throws: the value comes from the network.
 */
export function parseCorrelationId(
  value: string,
): { readonly correlation: Correlation; readonly mac: Buffer } | undefined {
  const macAt = value.lastIndexOf(":");
  const nonceAt = macAt > 0 ? value.lastIndexOf(":", macAt - 1) : -1;
  const instanceAt = nonceAt > 0 ? value.lastIndexOf(":", nonceAt - 1) : -1;
  // The event id before them must not be empty.
  if (instanceAt <= 0) return undefined;
  const eventId = value.slice(0, instanceAt);
  const instance = value.slice(instanceAt + 1, nonceAt);
  const nonce = value.slice(nonceAt + 1, macAt);
  const mac = value.slice(macAt + 1);
  if (!INSTANCE.test(instance) || !NONCE.test(nonce) || !MAC.test(mac)) return undefined;
  const bytes = Buffer.from(mac, "base64url");
  // The last character holds spare bits: only the spelling minted is accepted.
  if (bytes.toString("base64url") !== mac) return undefined;
  return { correlation: { eventId, instance, nonce }, mac: bytes };
}

/** True when `mac` was made by one of `keys` for this correlation of this RequestReply. */
export function verifyCorrelation(
  scope: string,
  correlation: Correlation,
  mac: Buffer,
  keys: readonly Buffer[],
): boolean {
  if (mac.length !== MAC_BYTES) return false;
  return keys.some((key) => timingSafeEqual(macOf(scope, correlation, key), mac));
}

/** `scope` is the RequestReply's `namespace/name`; newlines cannot occur in any part but the id. */
function macOf(scope: string, correlation: Correlation, key: Buffer): Buffer {
  const { eventId, instance, nonce } = correlation;
  return createHmac("sha256", key)
    .update(`${DOMAIN}\n${scope}\n${instance}\n${nonce}\n${eventId}`)
    .digest()
    .subarray(0, MAC_BYTES);
}
