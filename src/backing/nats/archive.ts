/**
 * Reading back what a NATS stream with retention keeps (CONTRACT §11 replay): an ordered
 * (ephemeral, flow-controlled) consumer starting at the window's start time (opt_start_time),
 * stopped at the window's end or at the last message the stream held when the read began, so a
 * busy stream cannot keep a replay reading forever.
 */
import { DeliverPolicy } from "nats";
import { decodeFromStorage } from "../../events/json-format.js";
import type { ArchivedEvent } from "../backing.js";
import type { NatsLink } from "./connection.js";
import { jetStreamName } from "./naming.js";

const STREAM_NOT_FOUND = 10059;

export async function* readNatsArchive(
  link: NatsLink,
  stream: string,
  fromMs: number,
  toMs: number,
  /** The JetStream stream holding it (another name once retention took over; provisioning.ts). */
  name: string = jetStreamName(stream),
): AsyncIterable<ArchivedEvent> {
  if (toMs <= fromMs) return;
  let lastSeq: number;
  let lastMs: number;
  try {
    const info = await link.jsm.streams.info(name);
    lastSeq = info.state.last_seq;
    lastMs = Date.parse(info.state.last_ts);
    if (info.state.messages === 0) return;
  } catch (error) {
    if ((error as { api_error?: { err_code?: number } }).api_error?.err_code === STREAM_NOT_FOUND) {
      return;
    }
    throw error;
  }
  // Nothing at or after `from`: an ordered consumer would wait for the next publish.
  if (lastMs < fromMs) return;
  const consumer = await link.js.consumers.get(name, {
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: new Date(fromMs).toISOString(),
  });
  const messages = await consumer.consume({ max_messages: 256 });
  try {
    for await (const message of messages) {
      const at = Math.floor(message.info.timestampNanos / 1e6);
      if (at >= toMs) break;
      if (at >= fromMs) {
        const data = message.data;
        yield {
          event: decodeFromStorage(Buffer.from(data.buffer, data.byteOffset, data.length)),
          at,
        };
      }
      if (message.seq >= lastSeq || message.info.pending === 0) break;
    }
  } finally {
    messages.stop();
  }
}
