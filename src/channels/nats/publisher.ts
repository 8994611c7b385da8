import { createHash } from "node:crypto";
import type { NatsConnection } from "nats";
import type { CloudEvent } from "../../events/event.js";
import { encodeForStorage } from "../../events/json-format.js";
import { BackingUnavailableError } from "../backing.js";
import type { NatsConnector, NatsLink } from "./connection.js";
import { eventSubject, jetStreamName } from "./naming.js";
import type { JetStreamProvisioning } from "./provisioning.js";
import { PubAckInbox, type PubAckResult } from "./pub-ack-inbox.js";
import type { NatsSettings } from "./settings.js";

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

/**
 * The JetStream msgID of an event. Producers retrying the same request (same attributes and
 * data, later arrival time) land on one stored copy. source + id alone would also swallow
 * legitimate re-entries of an event: a reply that echoes it (lower TTL) or its dead letter
 * (knativeerror* added) sent back to the same broker.
 */
export function dedupeId(event: CloudEvent): string {
  const { knativearrivaltime: _, ...identity } = event.attributes;
  const hash = createHash("sha256").update(JSON.stringify(identity));
  if (event.data !== undefined) hash.update(event.data);
  return hash.digest("base64url");
}

/**
 * Appends events to their JetStream stream: all messages of a batch go out in one write and
 * their PubAcks are awaited together; publish() resolves only once every PubAck arrived, and
 * rejects with BackingUnavailableError when that takes longer than publishTimeoutMs.
 */
export class JetStreamPublisher {
  readonly #inboxes = new WeakMap<NatsConnection, PubAckInbox>();

  constructor(
    private readonly connector: NatsConnector,
    private readonly provisioning: JetStreamProvisioning,
    private readonly settings: NatsSettings,
  ) {}

  async publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    const timeoutMs = this.settings.publishTimeoutMs;
    const deadline = Date.now() + timeoutMs;
    const subjects = events.map((event) => eventSubject(stream, String(event.attributes["type"])));
    const streamName = jetStreamName(stream);
    const payloads = events.map((event) => Buffer.from(encodeForStorage(event), "utf8"));
    // While NATS is away the client would buffer; answer 503 now rather than after the timeout.
    const link = await this.connector.linkNow(timeoutMs);
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
      new BackingUnavailableError(
        `NATS did not store the events on ${streamName}: ${why}`,
        "nats",
        {
          cause,
        },
      );
    try {
      await beforeDeadline(this.provisioning.ensureStream(link, stream), deadline);
    } catch (error) {
      throw error instanceof BackingUnavailableError ? error : unavailable(String(error), error);
    }
    const inbox = this.#inboxFor(link);
    const msgIds = events.map(dedupeId);
    const send = (indexes: readonly number[]) =>
      this.#sendAll(inbox, subjects, streamName, payloads, msgIds, indexes, deadline);
    let failed = await send(payloads.map((_, index) => index));
    if (failed.length > 0 && failed.every(({ result }) => result.noResponders)) {
      // No stream answers the subject: it was deleted, or the engine lost its state. Recreate
      // it and resend; the msgID keeps a resend that already landed from being stored twice.
      this.provisioning.forgetStream(link, stream);
      try {
        await beforeDeadline(this.provisioning.ensureStream(link, stream), deadline);
      } catch (error) {
        throw error instanceof BackingUnavailableError ? error : unavailable(String(error), error);
      }
      failed = await send(failed.map(({ index }) => index));
    }
    if (failed.length > 0) throw unavailable(failed[0]!.result.reason);
  }

  /** Publishes `indexes` and returns those that failed; rejects when the deadline passes. */
  async #sendAll(
    inbox: PubAckInbox,
    subjects: readonly string[],
    streamName: string,
    payloads: readonly Buffer[],
    msgIds: readonly string[],
    indexes: readonly number[],
    deadline: number,
  ): Promise<Array<{ index: number; result: Extract<PubAckResult, { ok: false }> }>> {
    const sent = indexes.map((index) => ({
      index,
      ...inbox.publish(subjects[index]!, payloads[index]!, msgIds[index]!, streamName),
    }));
    let results: PubAckResult[];
    try {
      results = await beforeDeadline(Promise.all(sent.map((s) => s.answer)), deadline);
    } catch (error) {
      // A late PubAck changes nothing: the caller is told 503 and may retry (same msgID).
      for (const { token } of sent) inbox.forget(token);
      throw error;
    }
    return results.flatMap((result, i) => (result.ok ? [] : [{ index: sent[i]!.index, result }]));
  }

  #inboxFor(link: NatsLink): PubAckInbox {
    let inbox = this.#inboxes.get(link.nc);
    if (!inbox) {
      inbox = new PubAckInbox(link.nc);
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
