import type { Dispatcher } from "../delivery/dispatcher.js";
import type { DeliveryLabels, DeliveryOptions, DeliveryOutcome } from "../delivery/options.js";
import type { CloudEvent } from "../events/event.js";

/** Where a source hands its events. Resolves with how the delivery ended. */
export type EventSink = (event: CloudEvent) => Promise<DeliveryOutcome>;

/** A source only ever hands events to its sink; it never talks to backings. */
export interface Source {
  start(sink: EventSink): Promise<void>;
  stop(): Promise<void>;
}

/** The sink of every source: the one Dispatcher, towards the resolved `spec.sink`. */
export function dispatcherSink(
  dispatcher: Dispatcher,
  url: string,
  delivery: DeliveryOptions,
  source: { namespace: string; name: string },
  signal?: AbortSignal,
): EventSink {
  const labels: DeliveryLabels = { namespace: source.namespace, kind: "source", name: source.name };
  const control = signal ? { signal } : {};
  return (event) => dispatcher.deliver(event, url, delivery, labels, control);
}

/** `ceOverrides.extensions` are added to every event a source emits. */
export function overrideExtensions(
  attributes: Record<string, string | number | boolean>,
  ceOverrides: { extensions?: Record<string, string> } | undefined,
): Record<string, string | number | boolean> {
  return ceOverrides?.extensions ? { ...attributes, ...ceOverrides.extensions } : attributes;
}
