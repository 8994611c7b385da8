import {
  type AttributeValue,
  type CloudEvent,
  EventValidationError,
  ownEvent,
  withAttributes,
} from "../events/event.js";

export const TTL_ATTRIBUTE = "knativebrokerttl";
const ARRIVAL_ATTRIBUTE = "knativearrivaltime";
const DEFAULT_TTL = 255;

/** An event whose TTL is already 0 arrived: it has used up its hops (a reply loop). */
export class TtlExhaustedError extends Error {
  constructor() {
    super(`${TTL_ATTRIBUTE} is already 0: the event has used up its hops`);
    this.name = "TtlExhaustedError";
  }
}

/**
 * What broker ingress does to every event: stamp the arrival time and count one hop of TTL.
 * A producer's event starts at 255; a reply comes back carrying its trigger event's TTL and costs
 * one more. An event whose TTL is already 0 has used up its hops (a reply loop) and is refused.
 */
export function stampBrokerIngress(event: CloudEvent, arrival: string): CloudEvent {
  const raw = event.attributes[TTL_ATTRIBUTE];
  let ttl = DEFAULT_TTL;
  if (raw !== undefined) {
    // A header carries the TTL as text: only whole digits, never parseInt's "12abc" → 12.
    const parsed =
      typeof raw === "number" ? raw : /^\d+$/.test(String(raw)) ? Number(raw) : Number.NaN;
    if (!Number.isInteger(parsed) || parsed < 0) {
      throw new EventValidationError(
        `${TTL_ATTRIBUTE} must be a non-negative integer`,
        TTL_ATTRIBUTE,
      );
    }
    if (parsed === 0) {
      throw new TtlExhaustedError();
    }
    ttl = parsed - 1;
  }
  // A copy with the two set, without a patch object to walk per event.
  const attributes: Record<string, AttributeValue> = Object.assign({}, event.attributes);
  attributes[TTL_ATTRIBUTE] = ttl;
  attributes[ARRIVAL_ATTRIBUTE] = arrival;
  return ownEvent(attributes, event.data);
}

/** The reply re-enters the broker with the TTL of the event it answers. */
export function replyWithTtlOf(reply: CloudEvent, original: CloudEvent): CloudEvent {
  const ttl = original.attributes[TTL_ATTRIBUTE];
  return withAttributes(reply, { [TTL_ATTRIBUTE]: ttl === undefined ? undefined : ttl });
}
