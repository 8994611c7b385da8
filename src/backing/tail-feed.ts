/**
 * What producers of the live tail (CONTRACT §11) see: ingress and the trigger and subscription
 * consumers publish through this, and operations/tail-bus.ts implements it. It lives here, below
 * both, so the data path does not import operations/.
 */
import type { CloudEvent } from "../events/event.js";

/** The broker or channel an event was accepted into, or whose consumer delivered it. */
export interface TailOrigin {
  readonly namespace: string;
  readonly kind: "broker" | "channel";
  readonly name: string;
}

/** `event: outcome` of the tail, as CONTRACT §11 shapes it. */
export interface TailOutcome {
  readonly id: string;
  readonly source: string;
  readonly kind: "Trigger" | "Subscription";
  readonly name: string;
  /**
   * How the delivery ended. No `filtered-out`: a backing may never hand a trigger the events its
   * filter's type excludes (the memory backing's feeds by type), so it could not be told evenly.
   */
  readonly outcome: "delivered" | "replied" | "dead-lettered" | "dropped";
  /** The subscriber's last status, absent when none came back (or nothing was sent). */
  readonly status?: number;
  /** Attempts made. */
  readonly attempt: number;
}

/** The tail's outcome of a delivery by a trigger or subscription. */
export function tailOutcome(
  event: CloudEvent,
  kind: TailOutcome["kind"],
  name: string,
  delivery: {
    readonly kind: TailOutcome["outcome"];
    readonly status?: number | undefined;
    readonly attempts: number;
  },
): TailOutcome {
  const { status, attempts } = delivery;
  return {
    id: String(event.attributes["id"]),
    source: String(event.attributes["source"]),
    kind,
    name,
    outcome: delivery.kind,
    ...(status === undefined ? {} : { status }),
    attempt: attempts,
  };
}

/** What the producers of the tail see: check `active` before building anything to publish. */
export interface TailFeed {
  /** True while at least one reader is connected. */
  readonly active: boolean;
  accepted(origin: TailOrigin, events: readonly CloudEvent[]): void;
  outcome(origin: TailOrigin, event: CloudEvent, outcome: TailOutcome): void;
}
