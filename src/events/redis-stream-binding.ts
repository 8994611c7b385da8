/**
 * eventing-redis's mapping between Redis stream entries and CloudEvents, both ways. Pure: no
 * client, no I/O.
 *
 * An entry read by a RedisStreamSource becomes type `dev.knative.sources.redisstream`, source
 * `{address}/{stream}`, id the entry id, and as data (application/json) the entry's field-value
 * list, `["field1", "value1", "field2", "value2", ...]`. A RedisStreamSink takes that same list
 * from an event's data and appends it as one entry (XADD), so a source reading a sink's stream
 * sees what was sent.
 */
import { type CloudEvent, createEvent, EventValidationError } from "./event.js";

export const REDIS_STREAM_EVENT_TYPE = "dev.knative.sources.redisstream";

/**
 * The `source` of a stream's events. Credentials in the address (`rediss://user:pass@host`) stay
 * out of it: the attribute travels with every event, and secrets never appear in events or logs.
 */
export function redisStreamSource(address: string, stream: string): string {
  return `${redactAddress(address)}/${stream}`;
}

/** The address with any user name and password removed. */
export function redactAddress(address: string): string {
  if (!URL.canParse(address)) return address.replace(/^[^@/]*@/, "");
  const url = new URL(address);
  if (url.username === "" && url.password === "") return address;
  url.username = "";
  url.password = "";
  return url.toString().replace(/\/$/, "");
}

/** The event for one entry. `fields` alternate names and values, as XREADGROUP returns them. */
export function entryToEvent(source: string, id: string, fields: readonly string[]): CloudEvent {
  const attributes: Record<string, string> = {
    specversion: "1.0",
    id,
    source,
    type: REDIS_STREAM_EVENT_TYPE,
    datacontenttype: "application/json",
  };
  // An entry id starts with the millisecond it was added: the time the event happened.
  const millis = Number(id.split("-", 1)[0]);
  if (Number.isSafeInteger(millis) && millis > 0) {
    attributes["time"] = new Date(millis).toISOString();
  }
  return createEvent(attributes, Buffer.from(JSON.stringify(fields), "utf8"));
}

/**
 * The field-value list to XADD for an event. Throws EventValidationError (field `data`) unless
 * the data is a JSON array of an even, non-zero number of strings, numbers or booleans.
 */
export function eventToFields(event: CloudEvent): string[] {
  const refuse = (why: string) =>
    new EventValidationError(
      `data ${why}: a RedisStreamSink takes a JSON array of field, value pairs, e.g. ["fruit","banana"]`,
      "data",
    );
  if (event.data === undefined || event.data.length === 0) throw refuse("is missing");
  let parsed: unknown;
  try {
    parsed = JSON.parse(event.data.toString("utf8"));
  } catch {
    throw refuse("is not JSON");
  }
  if (!Array.isArray(parsed)) throw refuse("is not an array");
  if (parsed.length === 0 || parsed.length % 2 !== 0) {
    throw refuse(`holds ${parsed.length} items, not a whole number of pairs`);
  }
  return parsed.map((item, index) => {
    if (typeof item === "string") return item;
    if (typeof item === "number" || typeof item === "boolean") return String(item);
    throw refuse(`item ${index} is ${item === null ? "null" : typeof item}`);
  });
}
