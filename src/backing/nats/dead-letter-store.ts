/**
 * The dead-letter store on NATS (CONTRACT §11): one JetStream stream per namespace,
 * `EVENTAIL_DEADLETTERS_<namespace>` on subject `eventail-deadletters.<namespace>`, shared by every
 * process using the engine. An entry is one message (its stream sequence is the entryId): the
 * event in the same storage form broker streams hold, the error context as JSON in a header.
 *
 * The bound is the stream's max_msgs with discard *new*: a full store refuses the publish, and the
 * writer deletes the oldest message itself and publishes again. Discard old would push the oldest
 * out unseen, and stream state read around the publish miscounts when two processes write at
 * once; a message delete succeeds for one caller only, so every entry pushed out is counted
 * exactly once, by whoever deleted it. Listing reads with direct gets (`next_by_subj` from the
 * sequence after `after`), so nothing is left behind on the server (no consumer to clean up).
 */
import { DiscardPolicy, headers, type MsgHdrs, StorageType, type StoredMsg } from "nats";
import { decodeFromStorage } from "../../events/json-format.js";
import type { DeadLetterEntry, DeadLetterRecord, DeadLetterStore } from "../dead-letter.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import type { NatsSettings } from "./settings.js";
import { storeEvent } from "./storage.js";

/** JetStream API error codes this file reacts to. */
const STREAM_NOT_FOUND = 10059;
const NO_MESSAGE_FOUND = 10037;
/** "maximum messages exceeded": the store is full (discard new). */
const MAX_MESSAGES_EXCEEDED = 10077;
const STREAM_NAME_IN_USE = 10058;
const META_HEADER = "Eventail-Dead-Letter";
const NAMESPACE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

type Meta = Omit<DeadLetterRecord, "event">;

/** nats.js has direct gets on every JetStreamManager but leaves them out of its type. */
interface DirectGets {
  getMessage(stream: string, query: { seq: number; next_by_subj: string }): Promise<StoredMsg>;
}

function checkNamespace(namespace: string): void {
  if (!NAMESPACE.test(namespace)) {
    throw new Error(`namespace ${JSON.stringify(namespace)} must be a DNS label`);
  }
}

export function deadLetterStreamName(namespace: string): string {
  checkNamespace(namespace);
  // Broker and channel streams are EVENTAIL_ then lower case: upper case never meets them.
  return `EVENTAIL_DEADLETTERS_${namespace}`;
}

export function deadLetterSubject(namespace: string): string {
  checkNamespace(namespace);
  // Broker subjects start with the `eventail` token: no wildcard of theirs overlaps this one.
  return `eventail-deadletters.${namespace}`;
}

function apiErrorCode(error: unknown): number | undefined {
  const api = (error as { api_error?: { err_code?: number; code?: number } } | undefined)
    ?.api_error;
  return api?.err_code;
}

/** Direct gets answer a missing message with a 404 status, not an API error. */
function isNotFound(error: unknown): boolean {
  const code = apiErrorCode(error);
  if (code === NO_MESSAGE_FOUND || code === STREAM_NOT_FOUND) return true;
  const text = String((error as Error | undefined)?.message ?? "");
  return /no message found|not found|404/i.test(text);
}

export class NatsDeadLetterStore implements DeadLetterStore {
  /** Streams made (with a max_msgs) on the current link; a new link checks them again. */
  private streams = new Map<string, Promise<void>>();
  private streamsLink: NatsLink | undefined;

  constructor(
    private readonly connector: NatsConnector,
    private readonly settings: NatsSettings,
  ) {}

  async add(namespace: string, record: DeadLetterRecord, maxEntries: number): Promise<number> {
    const { event, ...meta } = record;
    const name = deadLetterStreamName(namespace);
    const subject = deadLetterSubject(namespace);
    const link = await this.link();
    let pushedOut = await this.ensure(link, namespace, maxEntries);
    const payload = storeEvent(event).payload;
    const hdrs = headers();
    // Header values travel as bytes of one line: JSON escapes line breaks, and \u escapes keep
    // any non-ASCII text (an error message, a subscriber URL) intact.
    hdrs.set(
      META_HEADER,
      JSON.stringify(meta).replace(
        /[\u007f-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      ),
    );
    // Each turn deletes one message; a store shrunk by a smaller size takes several.
    for (;;) {
      try {
        await link.js.publish(subject, payload, { headers: hdrs });
        return pushedOut;
      } catch (error) {
        if (apiErrorCode(error) !== MAX_MESSAGES_EXCEEDED) throw error;
      }
      const info = await link.jsm.streams.info(name);
      if (info.state.messages === 0) continue;
      if (await this.deleteSequence(link, name, info.state.first_seq)) pushedOut++;
    }
  }

  async list(
    namespace: string,
    after: string | undefined,
    count: number,
  ): Promise<DeadLetterEntry[]> {
    const name = deadLetterStreamName(namespace);
    const subject = deadLetterSubject(namespace);
    const link = await this.link();
    let seq = after === undefined ? 1 : Number(after) + 1;
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`bad entry id ${after}`);
    // Direct gets on a stream that does not exist find no responder and time out: ask first.
    let last: number;
    try {
      const info = await link.jsm.streams.info(name);
      if (info.state.messages === 0) return [];
      last = info.state.last_seq;
    } catch (error) {
      if (apiErrorCode(error) === STREAM_NOT_FOUND) return [];
      throw error;
    }
    const entries: DeadLetterEntry[] = [];
    while (entries.length < count && seq <= last) {
      let message: StoredMsg;
      try {
        message = await (link.jsm as unknown as { direct: DirectGets }).direct.getMessage(name, {
          seq,
          next_by_subj: subject,
        });
      } catch (error) {
        if (isNotFound(error)) break;
        throw error;
      }
      const entry = parseEntry(message);
      if (entry !== undefined) entries.push(entry);
      seq = message.seq + 1;
    }
    return entries;
  }

  async remove(namespace: string, entryId: string): Promise<boolean> {
    const seq = Number(entryId);
    if (!Number.isSafeInteger(seq) || seq < 1) return false;
    const link = await this.link();
    return this.deleteSequence(link, deadLetterStreamName(namespace), seq);
  }

  private link(): Promise<NatsLink> {
    return this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
  }

  /** True when this call deleted it; false when it was gone already (deleted by someone else). */
  private async deleteSequence(link: NatsLink, name: string, seq: number): Promise<boolean> {
    try {
      return await link.jsm.streams.deleteMessage(name, seq, false);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /**
   * Creates the namespace's stream, or brings its max_msgs to `maxEntries`; resolves to how many
   * entries a smaller size pushed out (to the one caller that made the change, 0 to the others).
   */
  private async ensure(link: NatsLink, namespace: string, maxEntries: number): Promise<number> {
    if (this.streamsLink !== link) {
      this.streamsLink = link;
      this.streams = new Map();
    }
    const key = `${namespace}\u0000${maxEntries}`;
    const done = this.streams.get(key);
    if (done !== undefined) {
      await done;
      return 0;
    }
    const made = this.provision(link, namespace, maxEntries);
    const settled = made.then(() => undefined);
    this.streams.set(key, settled);
    settled.catch(() => this.streams.delete(key));
    return made;
  }

  private async provision(link: NatsLink, namespace: string, maxEntries: number): Promise<number> {
    const name = deadLetterStreamName(namespace);
    // A second turn when another process made the stream between our info and add.
    for (let turn = 0; ; turn++) {
      try {
        const info = await link.jsm.streams.info(name);
        if (info.config.max_msgs === maxEntries) return 0;
        // The server trims to a smaller max_msgs itself, whatever the discard policy: count the
        // difference (a message another process adds or removes meanwhile can skew it by one).
        const updated = await link.jsm.streams.update(name, {
          ...info.config,
          max_msgs: maxEntries,
        });
        return Math.max(0, info.state.messages - updated.state.messages);
      } catch (error) {
        if (apiErrorCode(error) !== STREAM_NOT_FOUND) throw error;
      }
      try {
        await link.jsm.streams.add({
          name,
          subjects: [deadLetterSubject(namespace)],
          max_msgs: maxEntries,
          discard: DiscardPolicy.New,
          storage: StorageType.File,
          num_replicas: this.settings.replicas,
          allow_direct: true,
        });
        return 0;
      } catch (error) {
        if (apiErrorCode(error) !== STREAM_NAME_IN_USE || turn > 0) throw error;
      }
    }
  }
}

/** An entry as stored, or undefined for a message that is not ours (skipped, not fatal). */
function parseEntry(message: StoredMsg): DeadLetterEntry | undefined {
  const meta = (message.header as MsgHdrs | undefined)?.get(META_HEADER);
  if (!meta) return undefined;
  try {
    return {
      ...(JSON.parse(meta) as Meta),
      event: decodeFromStorage(Buffer.from(message.data)),
      entryId: String(message.seq),
    };
  } catch {
    return undefined;
  }
}
