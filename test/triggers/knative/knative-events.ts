/**
 * The events and stub filters Knative's filter tests share, as Eventail values (facts restated
 * from knative/eventing pkg/eventfilter/subscriptionsapi/all_filter_test.go and
 * pkg/eventfilter/attributes/filter_test.go, tag knative-v1.22.2, Apache-2.0).
 */
import { type Attributes, createEvent } from "../../../src/events/event.js";
import { type EventFilter, FAIL, PASS } from "../../../src/triggers/dialects.js";

/** subscriptionsapi's constants. */
export const eventType = "dev.knative.example";
export const eventSource = "knativesource";
export const eventID = "1234";
export const extensionName = "myextension";
export const extensionValue = "my-extension-value";
export const eventTTLName = "knativebrokerttl";
export const eventTTLValue = 20;

/** subscriptionsapi's makeEvent: a 1.0 event carrying the broker TTL extension. */
export function makeEvent(extra: Record<string, string> = {}): Attributes {
  return createEvent({
    specversion: "1.0",
    type: eventType,
    source: eventSource,
    id: eventID,
    [eventTTLName]: eventTTLValue,
    ...extra,
  }).attributes;
}

export function makeEventWithExtension(name: string, value: string): Attributes {
  return makeEvent({ [name]: value });
}

export const passFilter: EventFilter = () => PASS;
export const failFilter: EventFilter = () => FAIL;

export const RESULT_NAMES = ["PassFilter", "FailFilter", "NoFilter"] as const;
