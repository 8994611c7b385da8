/**
 * Redis names for Eventail streams and consumers. Every process must derive the same key and
 * group from a stream or consumer name, so the mapping is a pure function of the name.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

const KEY_PREFIX = "eventail:";

/** The field of each stream entry that holds the event in storage encoding. */
export const EVENT_FIELD = "event";

/** `broker.default.default` → `eventail:broker.default.default`. */
export function streamKey(stream: string): string {
  if (stream === "") throw new Error("stream: name must not be empty");
  return KEY_PREFIX + stream;
}

/** A trigger or subscription is one consumer group; its name is the group name as given. */
export function groupName(consumer: string): string {
  if (consumer === "") throw new Error("name: consumer name must not be empty");
  return consumer;
}

/**
 * Set for a while when a consumer group is removed on purpose (its trigger was deleted): a process
 * still on the old configuration that then meets NOGROUP re-creates the group at the stream's end
 * rather than its start, so the deleted trigger is not handed the whole stream again.
 */
export function removedGroupKey(key: string, group: string): string {
  return `${KEY_PREFIX}removed-group:${key}/${group}`;
}

/** Long enough for every process to take the new configuration. */
export const REMOVED_GROUP_MARK_MS = 10 * 60 * 1000;

/**
 * The member of a group that one subscription in this process reads as: hostname:pid:random.
 * The random part keeps two subscriptions of one process (or a restarted pid) apart, so
 * ownership checks in keepAlive never confuse them.
 */
export function consumerMemberName(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
}

/** Stream entry ids are `<ms>-<seq>`; compares them in stream order. */
export function compareEntryIds(a: string, b: string): number {
  const [aMs, aSeq] = splitId(a);
  const [bMs, bSeq] = splitId(b);
  return aMs !== bMs ? aMs - bMs : aSeq - bSeq;
}

function splitId(id: string): [number, number] {
  const dash = id.indexOf("-");
  if (dash < 0) return [Number(id), 0];
  return [Number(id.slice(0, dash)), Number(id.slice(dash + 1))];
}
