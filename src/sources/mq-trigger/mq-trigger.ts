import type { Dispatcher } from "../../delivery/dispatcher.js";
import type { DeliveryOptions } from "../../delivery/options.js";
import type { Logger } from "../../observability/logger.js";
import type { Metrics } from "../../observability/metrics.js";
import type { RunnableSource } from "../registry.js";
import { type Invocation, invokeSubscriber } from "./invoke.js";
import { messageEvent } from "./message-event.js";
import type { MessageQueue, QueueMessage } from "./queue.js";

export interface MessageQueueTriggerSpec {
  readonly messageQueueType: "kafka" | "nats" | "redis";
  readonly topic: string;
  readonly respTopic?: string;
  readonly errorTopic?: string;
  /** Extra attempts after the first; default 0, as Fission's. */
  readonly maxRetries?: number;
  /** datacontenttype of messages that say none; default application/json. */
  readonly contentType?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

/** Headers of a message sent to errorTopic, beside the original body. */
export const ERROR_HEADER = "error";
export const STATUS_HEADER = "status";
export const TOPIC_HEADER = "topic";

export interface MessageQueueTriggerDeps {
  readonly namespace: string;
  readonly name: string;
  readonly spec: MessageQueueTriggerSpec;
  readonly queue: MessageQueue;
  readonly dispatcher: Dispatcher;
  readonly subscriberUrl: string;
  /** Backoff and timeout for the subscriber; `retry` is maxRetries. */
  readonly delivery: DeliveryOptions;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/**
 * MessageQueueTrigger, Fission's model: every message of `topic` goes to the subscriber as a
 * CloudEvent, with maxRetries + 1 attempts; a 2xx answer's body is published to respTopic, and
 * a message that still fails goes to errorTopic with the error, the last status and the topic it
 * came from as headers. A message is acknowledged on its queue only after that, so a crash
 * redelivers it rather than losing it.
 */
export class MessageQueueTrigger implements RunnableSource {
  private readonly stopping = new AbortController();
  private readonly source: string;
  private readonly labels: { namespace: string; trigger: string };

  constructor(private readonly deps: MessageQueueTriggerDeps) {
    this.source = `/apis/v1alpha1/namespaces/${deps.namespace}/messagequeuetriggers/${deps.name}`;
    this.labels = { namespace: deps.namespace, trigger: `messagequeuetrigger/${deps.name}` };
  }

  /** The sink the reconciler offers is not used: the subscriber's answers are needed here. */
  async start(): Promise<void> {
    this.deps.queue.start((message) => this.handle(message));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.deps.queue.stop();
  }

  private async handle(message: QueueMessage): Promise<boolean> {
    const { spec, dispatcher, subscriberUrl, delivery, metrics } = this.deps;
    const event = messageEvent(
      message,
      this.source,
      spec.contentType ?? "application/json",
      spec.ceOverrides?.extensions,
    );
    const invocation = await invokeSubscriber(
      dispatcher,
      event,
      subscriberUrl,
      delivery,
      (spec.maxRetries ?? 0) + 1,
      this.stopping.signal,
      (code) => metrics.deliveryAttempts.inc({ ...this.labels, code }),
    );
    if (invocation.kind === "shutdown") return false;
    if (invocation.kind === "succeeded") await this.reply(message, invocation);
    else await this.fail(message, invocation);
    return true;
  }

  private async reply(
    message: QueueMessage,
    invocation: Extract<Invocation, { kind: "succeeded" }>,
  ): Promise<void> {
    const topic = this.deps.spec.respTopic;
    if (!topic) return;
    const contentType = invocation.headers["content-type"];
    await this.publish(topic, message, {
      body: invocation.body,
      headers: contentType === undefined ? {} : { "content-type": contentType },
    });
  }

  private async fail(
    message: QueueMessage,
    invocation: Extract<Invocation, { kind: "failed" }>,
  ): Promise<void> {
    const { spec, logger, metrics } = this.deps;
    const details = {
      id: message.id,
      topic: message.topic,
      attempts: invocation.attempts,
      status: invocation.status,
      error: invocation.error,
    };
    if (!spec.errorTopic) {
      metrics.droppedEvents.inc({ namespace: this.labels.namespace, reason: "delivery-failed" });
      logger.error(details, "message failed and no errorTopic is set: dropped");
      return;
    }
    logger.warn(details, "message failed: sent to errorTopic");
    await this.publish(spec.errorTopic, message, {
      body: message.body,
      headers: {
        ...message.headers,
        [ERROR_HEADER]: invocation.error,
        [STATUS_HEADER]: invocation.status === undefined ? "" : String(invocation.status),
        [TOPIC_HEADER]: message.topic,
      },
    });
  }

  /** A publish that fails is logged, not retried by redelivery: the subscriber was called already. */
  private async publish(
    topic: string,
    message: QueueMessage,
    outgoing: { body: Buffer; headers: Record<string, string> },
  ): Promise<void> {
    try {
      await this.deps.queue.publish(topic, outgoing);
    } catch (error) {
      this.deps.logger.error(
        { err: error, id: message.id, topic },
        "could not publish to the queue",
      );
    }
  }
}
