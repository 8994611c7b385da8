import { hash } from "node:crypto";
import type { AttributeValue, CloudEvent } from "../../events/event.js";

/** One event as it goes into its JetStream stream. */
export interface StoredEvent {
  /** The storage form json-format's decodeFromStorage reads: attributes plus `data_base64`. */
  readonly payload: Buffer;
  /** The JetStream msgID (see storeEvent). */
  readonly msgId: string;
}

/**
 * Encodes an event for its stream and derives its JetStream msgID in the same pass.
 *
 * The payload is the JSON object encodeForStorage writes (attributes plus `data_base64`), built
 * by hand so that the base64 text, most of the bytes, is not scanned by JSON.stringify, and laid
 * out as `{"knativearrivaltime":…,` followed by every other member: the msgID is the SHA-256 of
 * those other members (one hash over bytes already encoded), the same whether or not the event
 * has an arrival time. Producers retrying the same request
 * (same attributes and data, later arrival time) so land on one stored copy. source + id alone
 * would also swallow legitimate re-entries of an event: a reply that echoes it (lower TTL) or its
 * dead letter (knativeerror* added) sent back to the same broker.
 */
export function storeEvent(event: CloudEvent): StoredEvent {
  const { knativearrivaltime: arrival, ...identity } = event.attributes as Record<
    string,
    AttributeValue
  >;
  // Attribute names are lower-case letters and digits: no attribute collides with data_base64.
  let json = JSON.stringify(identity);
  if (event.data !== undefined) {
    // Base64 text needs no JSON escaping.
    const data = `"data_base64":"${event.data.toString("base64")}"}`;
    json = json.length > 2 ? `${json.slice(0, -1)},${data}` : `{${data}`;
  }
  // The identity is `json` without its opening brace, wherever it sits in the payload.
  if (arrival === undefined) {
    const payload = Buffer.from(json, "utf8");
    return { payload, msgId: hash("sha256", payload.subarray(1), "base64url") };
  }
  const head = `{"knativearrivaltime":${JSON.stringify(arrival)}`;
  const more = json.length > 2;
  const payload = Buffer.from(head + (more ? `,${json.slice(1)}` : "}"), "utf8");
  const rest = payload.subarray(Buffer.byteLength(head, "utf8") + (more ? 1 : 0));
  return { payload, msgId: hash("sha256", rest, "base64url") };
}
