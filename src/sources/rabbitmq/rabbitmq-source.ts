import { setTimeout as sleep } from "node:timers/promises";
import { type Channel, type ChannelModel, type ConsumeMessage, connect } from "amqplib";
import { amqpMessageToEvent } from "../../events/amqp-binding.js";
import { type CloudEvent, withAttributes } from "../../events/event.js";
import type { Logger } from "../../observability/logger.js";
import { rabbitAddress, type SecretLookup } from "../../resources/rabbitmq-config.js";
import type { RunnableSource } from "../registry.js";
import type { EventSink } from "../source.js";

/** eventing-rabbitmq's RabbitmqSource (sources.knative.dev/v1alpha1), the fields read here. */
export interface RabbitmqSourceSpec {
  readonly rabbitmqClusterReference?: unknown;
  readonly rabbitmqResourcesConfig: {
    readonly queueName: string;
    readonly exchangeName?: string;
    readonly vhost?: string;
    readonly predeclared?: boolean;
    readonly parallelism?: number;
    readonly queueType?: "quorum" | "classic";
  };
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

const DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672";
const RETRY_MAX_MS = 5_000;
/** A delivery still running at stop is left unacked; closing the channel hands it back. */
const CLOSE_TIMEOUT_MS = 2_000;

/** The URL a source connects to (see rabbitmq-config.ts for the order). */
export function rabbitmqSourceUrl(
  spec: RabbitmqSourceSpec,
  annotations: Readonly<Record<string, string>> | undefined,
  namespace: string,
  secrets: SecretLookup,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const address = rabbitAddress(
    spec.rabbitmqClusterReference,
    annotations,
    namespace,
    secrets,
    "spec.rabbitmqClusterReference",
    spec.rabbitmqResourcesConfig.vhost,
  );
  switch (address.from) {
    case "secret":
    case "annotation":
      return address.url;
    case "default": {
      const base = env["RABBITMQ_URL"] || DEFAULT_URL;
      const vhost = spec.rabbitmqResourcesConfig.vhost;
      if (vhost === undefined) return base;
      const url = new URL(base);
      url.pathname = `/${encodeURIComponent(vhost)}`;
      return url.toString();
    }
    case "missing":
      throw new Error(
        `Secret ${address.namespace}/${address.name} (${address.path}) is not among the manifests`,
      );
    case "invalid":
      throw new Error(`${address.path}: ${address.message}`);
  }
}

/**
 * RabbitmqSource: consumes `rabbitmqResourcesConfig.queueName` (declared durable, and bound to
 * `exchangeName` with '#', unless predeclared) with a prefetch of `parallelism`, hands each message
 * to the sink as a CloudEvent (amqp-binding.ts) and acks it only once the delivery ended (the
 * Dispatcher's retries and dead letters included). A delivery shutdown cut short stays unacked:
 * RabbitMQ hands it out again. Reconnects by itself while RabbitMQ is away.
 */
export class RabbitmqSource implements RunnableSource {
  readonly #stop = new AbortController();
  #model: ChannelModel | undefined;
  #consuming = false;
  #loop: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: RabbitmqSourceSpec,
    private readonly url: string,
    private readonly logger: Logger,
  ) {}

  /** Connected and consuming (its queue and binding declared). */
  ready(): boolean {
    return this.#consuming;
  }

  async start(sink: EventSink): Promise<void> {
    this.#loop = this.#run(sink);
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    // In-flight deliveries end quickly: the sink's signal aborts with the source.
    await Promise.race([Promise.allSettled([...this.#inFlight]), sleep(CLOSE_TIMEOUT_MS)]);
    const model = this.#model;
    this.#model = undefined;
    await Promise.race([model?.close().catch(() => undefined), sleep(CLOSE_TIMEOUT_MS)]);
    await this.#loop;
  }

  async #run(sink: EventSink): Promise<void> {
    const signal = this.#stop.signal;
    for (let failures = 0; !signal.aborted; ) {
      try {
        const model = await connect(this.url, { timeout: 5_000 });
        if (signal.aborted) {
          await model.close().catch(() => undefined);
          return;
        }
        const closed = new Promise<void>((resolve) => model.on("close", () => resolve()));
        model.on("error", (error: Error) =>
          this.logger.warn({ err: error }, "RabbitmqSource connection error"),
        );
        this.#model = model;
        await this.#consume(model, sink);
        this.#consuming = true;
        failures = 0;
        await closed;
        this.#consuming = false;
        this.#model = undefined;
        if (!signal.aborted) this.logger.warn("RabbitmqSource: connection lost; reconnecting");
      } catch (error) {
        this.#consuming = false;
        if (signal.aborted) return;
        const model = this.#model;
        this.#model = undefined;
        await model?.close().catch(() => undefined);
        const wait = Math.min(250 * 2 ** failures, RETRY_MAX_MS);
        (failures === 0 ? this.logger.warn : this.logger.debug).call(
          this.logger,
          { err: error, retryInMs: wait },
          "RabbitmqSource cannot consume its queue; retrying",
        );
        failures++;
        await sleep(wait, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async #consume(model: ChannelModel, sink: EventSink): Promise<void> {
    const config = this.spec.rabbitmqResourcesConfig;
    const queue = config.queueName;
    if (!config.predeclared) await this.#declare(model);
    const channel = await model.createChannel();
    channel.on("error", (error: Error) =>
      this.logger.warn({ err: error, queue }, "RabbitmqSource channel error"),
    );
    // A channel closed alone (its queue deleted) takes the connection down, to start over.
    channel.on("close", () => {
      if (!this.#stop.signal.aborted) void model.close().catch(() => undefined);
    });
    await channel.prefetch(Math.max(1, config.parallelism ?? 1));
    await channel.consume(
      queue,
      (msg) => {
        if (msg === null) {
          void channel.close().catch(() => undefined);
          return;
        }
        const delivery = this.#deliver(channel, msg, sink);
        this.#inFlight.add(delivery);
        void delivery.finally(() => this.#inFlight.delete(delivery));
      },
      { noAck: false },
    );
  }

  async #declare(model: ChannelModel): Promise<void> {
    const config = this.spec.rabbitmqResourcesConfig;
    const channel = await model.createChannel();
    channel.on("error", () => undefined);
    try {
      await channel.assertQueue(config.queueName, {
        durable: true,
        arguments: { "x-queue-type": config.queueType ?? "classic" },
      });
      if (config.exchangeName) {
        await channel.assertExchange(config.exchangeName, "topic", { durable: true });
        await channel.bindQueue(config.queueName, config.exchangeName, "#");
      }
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  async #deliver(channel: Channel, msg: ConsumeMessage, sink: EventSink): Promise<void> {
    const { queueName: queue } = this.spec.rabbitmqResourcesConfig;
    let event: CloudEvent;
    try {
      event = amqpMessageToEvent(msg, { namespace: this.namespace, name: this.name, queue });
    } catch (error) {
      // It claims to be a CloudEvent and is not one: no delivery would ever succeed.
      this.logger.error(
        { err: error, queue },
        "RabbitmqSource: dropping a malformed CloudEvent message",
      );
      settle(() => channel.nack(msg, false, false));
      return;
    }
    const extensions = this.spec.ceOverrides?.extensions;
    if (extensions) event = withAttributes(event, extensions);
    try {
      const outcome = await sink(event);
      if (outcome.kind === "dropped") {
        // Shutdown: left unacked, so the closing channel hands it back to the queue.
        if (outcome.reason === "shutdown") return;
        // Given up after spec.delivery's retries, as Knative's adapter does: rejected without
        // requeue, so the queue's own dead-letter exchange (if any) gets it.
        settle(() => channel.nack(msg, false, false));
        return;
      }
      settle(() => channel.ack(msg));
    } catch (error) {
      if (this.#stop.signal.aborted) return;
      this.logger.warn({ err: error, queue }, "RabbitmqSource: delivery failed; message requeued");
      settle(() => channel.nack(msg, false, true));
    }
  }
}

/** Acks and nacks on a channel that closed meanwhile throw; RabbitMQ requeued the message then. */
function settle(operation: () => void): void {
  try {
    operation();
  } catch {
    // The channel is gone, and the message with it back to the queue.
  }
}
