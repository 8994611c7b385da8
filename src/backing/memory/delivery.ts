import type { CloudEvent } from "../../events/event.js";
import type { ConsumeMeta } from "../backing.js";
import type { Fifo } from "./fifo.js";

/** The events of one partitionkey in ordered mode: one in flight, the rest parked in order. */
export interface Lane {
  readonly key: string | undefined;
  busy: boolean;
  readonly parked: Fifo<Pending>;
}

/** An event waiting to be (re)delivered, with the deliveryCount it will carry. */
export interface Pending {
  readonly event: CloudEvent;
  readonly deliveryCount: number;
}

/**
 * One handler call in flight. Kept in its subscription's intrusive list (no Set hashing on the
 * hot path) so a subscription that closes before its handlers finish can hand them back.
 */
export class Delivery implements Pending {
  prev: Delivery | undefined;
  next: Delivery | undefined;
  /** Set when the subscription gave up waiting: the late outcome of the handler is ignored. */
  abandoned = false;

  constructor(
    readonly event: CloudEvent,
    readonly deliveryCount: number,
    readonly lane: Lane | undefined,
  ) {}
}

function keepAlive(): void {
  // Nothing to touch: the memory backing never hands an in-flight event to anyone else.
}

const metas: ConsumeMeta[] = [];

/** Frozen, shared meta objects: a first delivery costs no allocation for its meta. */
export function metaFor(deliveryCount: number): ConsumeMeta {
  if (deliveryCount > 64) return Object.freeze({ deliveryCount, keepAlive });
  let meta = metas[deliveryCount];
  if (meta === undefined) {
    meta = Object.freeze({ deliveryCount, keepAlive });
    metas[deliveryCount] = meta;
  }
  return meta;
}
