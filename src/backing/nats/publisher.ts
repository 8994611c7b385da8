import type { NatsConnection } from "nats";
import type { CloudEvent } from "../../events/event.js";
import { BackingUnavailableError } from "../backing.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import { eventSubject } from "./naming.js";
import type { Outbox } from "./outbox.js";
import type { JetStreamProvisioning } from "./provisioning.js";
import { PubAckInbox, type PubAckResult } from "./pub-ack-inbox.js";
import type { NatsSettings } from "./settings.js";
import { storeEvent } from "./storage.js";

/** Room the msgID and expected-stream headers take in a message, besides the event. */
const HEADERS_ALLOWANCE = 256;

export class PayloadTooLargeError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = "PayloadTooLargeError";
  }
}

/** The JetStream msgID of an event (see storeEvent). */
export function dedupeId(event: CloudEvent): string {
  return storeEvent(event).msgId;
}

interface StreamNames {
  /** Event subjects by type; bounded, since types come from producers. */
  readonly subjects: Map<string, string>;
}

const MAX_REMEMBERED_STREAMS = 1_000;
/**
 * Times a publish finds the stream again and resends: a stream name found just before a
 * retention takeover swapped the subjects is stale once, so more than one may be needed.
 */
const MAX_RESENDS = 3;
const MAX_REMEMBERED_SUBJECTS = 1_000;

/**
 * Appends events to their JetStream stream: the messages of every publish() in one turn of the
 * event loop go out in one write and their PubAcks are awaited together; publish() resolves
 * only once every PubAck arrived, and rejects with BackingUnavailableError when that takes
 * longer than publishTimeoutMs.
 */
export class JetStreamPublisher {
  readonly #inboxes = new WeakMap<NatsConnection, PubAckInbox>();
  readonly #names = new Map<string, StreamNames>();

  constructor(
    private readonly connector: NatsConnector,
    private readonly provisioning: JetStreamProvisioning,
    private readonly settings: NatsSettings,
    private readonly outbox: Outbox,
  ) {}

  async publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    const timeoutMs = this.settings.publishTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const names = this.#namesOf(stream);
    const subjects = events.map((event) => this.#subjectOf(stream, names, event));
    const stored = events.map(storeEvent);
    const payloads = stored.map((s) => s.payload);
    // While NATS is away the client would buffer; answer 503 now rather than after the timeout.
    const link = this.connector.current() ?? (await this.connector.linkNow(timeoutMs));
    if (!link) throw new BackingUnavailableError("NATS is not connected", "nats");
    const limit = link.nc.info?.max_payload;
    for (const [index, payload] of payloads.entries()) {
      if (limit !== undefined && payload.length + HEADERS_ALLOWANCE > limit) {
        throw new PayloadTooLargeError(
          `event ${index} is ${payload.length} bytes stored, over the NATS server max_payload of ${limit}`,
          "data",
        );
      }
    }
    const unavailable = (why: string, cause?: unknown) =>
      new BackingUnavailableError(`NATS did not store the events on ${stream}: ${why}`, "nats", {
        cause,
      });
    const ensureStream = async () => {
      try {
        await beforeDeadline(this.provisioning.ensureStream(link, stream), deadline);
      } catch (error) {
        throw error instanceof BackingUnavailableError ? error : unavailable(String(error), error);
      }
    };
    // Once the stream is known on this link, publishing costs no timer and no extra await.
    if (!this.provisioning.streamReady(link, stream)) await ensureStream();
    const inbox = this.#inboxFor(link);
    const msgIds = stored.map((s) => s.msgId);
    const send = (indexes: readonly number[]) =>
      this.#sendAll(
        inbox,
        subjects,
        this.provisioning.activeName(link, stream),
        payloads,
        msgIds,
        indexes,
        deadline,
      );
    let failed = await send(payloads.map((_, index) => index));
    for (
      let resends = 0;
      resends < MAX_RESENDS &&
      failed.length > 0 &&
      failed.every(({ result }) => result.noResponders || result.wrongStream);
      resends++
    ) {
      // No stream answers the subject (it was deleted, the engine lost its state, or a
      // retention takeover is between its two subject updates), or another stream took it
      // over. Find (or recreate) the stream and resend; the msgID keeps a resend that already
      // landed from being stored twice.
      this.provisioning.forgetStream(link, stream);
      await ensureStream();
      failed = await send(failed.map(({ index }) => index));
    }
    if (failed.length === 0) return;
    const { result } = failed[0]!;
    // A late PubAck changes nothing: the caller is told 503 and may retry (same msgID).
    if (result.timedOut) throw new BackingUnavailableError(result.reason, "nats");
    throw unavailable(result.reason);
  }

  /** Publishes `indexes` and returns those that failed (timed out included). */
  async #sendAll(
    inbox: PubAckInbox,
    subjects: readonly string[],
    streamName: string,
    payloads: readonly Buffer[],
    msgIds: readonly string[],
    indexes: readonly number[],
    deadline: number,
  ): Promise<Array<{ index: number; result: Extract<PubAckResult, { ok: false }> }>> {
    if (indexes.length === 1) {
      const index = indexes[0]!;
      const result = await inbox.publish(
        subjects[index]!,
        payloads[index]!,
        msgIds[index]!,
        streamName,
        deadline,
      );
      return result.ok ? [] : [{ index, result }];
    }
    const results = await Promise.all(
      indexes.map((index) =>
        inbox.publish(subjects[index]!, payloads[index]!, msgIds[index]!, streamName, deadline),
      ),
    );
    return results.flatMap((result, i) => (result.ok ? [] : [{ index: indexes[i]!, result }]));
  }

  #namesOf(stream: string): StreamNames {
    let names = this.#names.get(stream);
    if (!names) {
      names = { subjects: new Map() };
      if (this.#names.size >= MAX_REMEMBERED_STREAMS) this.#names.clear();
      this.#names.set(stream, names);
    }
    return names;
  }

  #subjectOf(stream: string, names: StreamNames, event: CloudEvent): string {
    const type = String(event.attributes["type"]);
    let subject = names.subjects.get(type);
    if (subject === undefined) {
      subject = eventSubject(stream, type);
      if (names.subjects.size >= MAX_REMEMBERED_SUBJECTS) names.subjects.clear();
      names.subjects.set(type, subject);
    }
    return subject;
  }

  #inboxFor(link: NatsLink): PubAckInbox {
    let inbox = this.#inboxes.get(link.nc);
    if (!inbox) {
      inbox = new PubAckInbox(link.nc, this.outbox);
      this.#inboxes.set(link.nc, inbox);
    }
    return inbox;
  }
}

async function beforeDeadline<T>(work: Promise<T>, deadline: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BackingUnavailableError(
            "NATS did not acknowledge in time (publishTimeoutMs)",
            "nats",
          ),
        ),
      Math.max(deadline - Date.now(), 0),
    );
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
