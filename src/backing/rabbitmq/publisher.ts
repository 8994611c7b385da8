import type { ChannelModel, ConfirmChannel } from "amqplib";
import type { CloudEvent } from "../../events/event.js";
import { encodeForStorage } from "../../events/json-format.js";
import type { Logger } from "../../observability/logger.js";
import { ACCEPTED_AT_HEADER } from "./archive.js";
import type { RabbitConnector } from "./connection.js";
import { unavailable, withTimeout } from "./connection.js";
import { exchangeName, routingKey } from "./naming.js";
import { type RabbitSettings, redact } from "./settings.js";
import { declareExchange } from "./topology.js";

/** The storage form's media type, so a person browsing a queue knows what a body is. */
export const STORAGE_CONTENT_TYPE = "application/cloudevents+json";

interface ConfirmLink {
  readonly model: ChannelModel;
  readonly channel: ConfirmChannel;
  /** Streams whose exchange this channel declared. */
  readonly exchanges: Set<string>;
}

/**
 * Publishes on one confirm channel per connection: publish() resolves once RabbitMQ confirmed
 * every event (it has routed them to every bound queue, and written them for durable ones).
 * A nack or a channel closed before the confirms came makes it reject as unavailable.
 */
export class RabbitPublisher {
  #link: Promise<ConfirmLink> | undefined;

  constructor(
    private readonly connector: RabbitConnector,
    private readonly settings: RabbitSettings,
    private readonly logger: Logger,
  ) {}

  async publish(stream: string, events: readonly CloudEvent[]): Promise<void> {
    if (events.length === 0) return;
    const what = `storing ${events.length} event(s) on ${exchangeName(stream)}`;
    const deadline = Date.now() + this.settings.publishTimeoutMs;
    try {
      // Known down: answer now, rather than hold each request the whole bound for nothing.
      if (this.connector.unreachable()) {
        throw new Error(`RabbitMQ at ${redact(this.settings.url)} is not reachable`);
      }
      const model = await this.connector.connected({ timeoutMs: this.settings.publishTimeoutMs });
      await withTimeout(this.#publish(model, stream, events), deadline - Date.now(), what);
    } catch (error) {
      throw unavailable(what, error);
    }
  }

  /** A later publish declares the exchange again (removeStream deleted it). */
  forget(stream: string): void {
    void this.#link?.then(
      (link) => link.exchanges.delete(stream),
      () => undefined,
    );
  }

  async #publish(model: ChannelModel, stream: string, events: readonly CloudEvent[]) {
    const link = await this.#confirmLink(model);
    if (!link.exchanges.has(stream)) {
      await declareExchange(link.channel, stream);
      link.exchanges.add(stream);
    }
    const exchange = exchangeName(stream);
    // When it was accepted, for the archive's time window (archive.ts).
    const headers = { [ACCEPTED_AT_HEADER]: Date.now() };
    await Promise.all(
      events.map(
        (event) =>
          new Promise<void>((resolve, reject) => {
            link.channel.publish(
              exchange,
              routingKey(event.attributes["type"]),
              Buffer.from(encodeForStorage(event), "utf8"),
              { persistent: true, contentType: STORAGE_CONTENT_TYPE, headers },
              (error: unknown) =>
                error
                  ? reject(error instanceof Error ? error : new Error("publish nacked"))
                  : resolve(),
            );
          }),
      ),
    );
  }

  #confirmLink(model: ChannelModel): Promise<ConfirmLink> {
    const current = this.#link;
    if (current) {
      return current.then(
        (link) => (link.model === model ? link : this.#open(model)),
        () => this.#open(model),
      );
    }
    return this.#open(model);
  }

  #open(model: ChannelModel): Promise<ConfirmLink> {
    const opening = model.createConfirmChannel().then((channel) => {
      const link: ConfirmLink = { model, channel, exchanges: new Set() };
      channel.on("error", (error: Error) => {
        this.logger.warn({ err: error }, "RabbitMQ publish channel error");
      });
      channel.on("close", () => {
        if (this.#link === opening) this.#link = undefined;
      });
      return link;
    });
    this.#link = opening;
    opening.catch(() => {
      if (this.#link === opening) this.#link = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    const link = await this.#link?.catch(() => undefined);
    this.#link = undefined;
    await link?.channel.close().catch(() => undefined);
  }
}
