import type { Dispatcher } from "../../delivery/dispatcher.js";
import type {
  DeliveryControl,
  DeliveryLabels,
  DeliveryOptions,
  DeliveryOutcome,
} from "../../delivery/options.js";
import type { Logger } from "../../observability/logger.js";
import type { RunnableSource } from "../registry.js";
import { messageEvent } from "./message-event.js";
import type { MessageQueue, QueueMessage } from "./queue.js";

export interface MessageQueueTriggerSpec {
  readonly messageQueueType: "kafka" | "nats" | "redis" | "rabbitmq" | "mqtt";
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
  /** Backoff, timeout and dead letter for the subscriber; `retry` is replaced by maxRetries. */
  readonly delivery: DeliveryOptions;
  readonly logger: Logger;
}

type Answered = Extract<DeliveryOutcome, { kind: "delivered" | "replied" }>;
type Failed = Exclude<DeliveryOutcome, Answered>;

/**
 * MessageQueueTrigger, Fission's model: every message of `topic` goes to the subscriber as a
 * CloudEvent through Dispatcher.deliver, with maxRetries + 1 attempts; a 2xx answer's body is
 * published to respTopic, and a message that still fails goes to errorTopic with the error, the
 * last status and the topic it came from as headers (and to the dead-letter sink, when
 * spec.delivery names one). A message is acknowledged on its queue only after that, so a crash
 * redelivers it rather than losing it.
 */
export class MessageQueueTrigger implements RunnableSource {
  private readonly stopping = new AbortController();
  private readonly source: string;
  private readonly labels: DeliveryLabels;
  private readonly delivery: DeliveryOptions;
  private readonly control: DeliveryControl;

  constructor(private readonly deps: MessageQueueTriggerDeps) {
    this.source = `/apis/v1alpha1/namespaces/${deps.namespace}/messagequeuetriggers/${deps.name}`;
    this.labels = {
      namespace: deps.namespace,
      kind: "source",
      name: `messagequeuetrigger/${deps.name}`,
    };
    this.delivery = { ...deps.delivery, retry: deps.spec.maxRetries ?? 0 };
    this.control = {
      signal: this.stopping.signal,
      // respTopic gets whatever a 2xx answer's body is, CloudEvent or not.
      keepBody: true,
      // With an errorTopic a failed message is not dropped: this trigger logs where it went.
      failureHandled: Boolean(deps.spec.errorTopic),
    };
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
    const { spec, dispatcher, subscriberUrl } = this.deps;
    const event = messageEvent(
      message,
      this.source,
      spec.contentType ?? "application/json",
      spec.ceOverrides?.extensions,
    );
    const outcome = await dispatcher.deliver(
      event,
      subscriberUrl,
      this.delivery,
      this.labels,
      this.control,
    );
    if (outcome.kind === "delivered" || outcome.kind === "replied") {
      await this.reply(message, outcome);
    } else if (outcome.kind === "dropped" && outcome.reason === "shutdown") {
      return false;
    } else await this.fail(message, outcome);
    return true;
  }

  private async reply(message: QueueMessage, answer: Answered): Promise<void> {
    const topic = this.deps.spec.respTopic;
    if (!topic) return;
    if (answer.truncated) {
      this.deps.logger.error(
        { id: message.id, topic, bytes: answer.body.length },
        "the subscriber's answer is longer than the reply limit: not published",
      );
      return;
    }
    const contentType = answer.headers["content-type"];
    await this.publish(topic, message, {
      body: answer.body,
      headers: contentType === undefined ? {} : { "content-type": contentType },
    });
  }

  /** Without an errorTopic the Dispatcher has logged and counted the drop already. */
  private async fail(message: QueueMessage, failure: Failed): Promise<void> {
    const errorTopic = this.deps.spec.errorTopic;
    if (!errorTopic) return;
    const error = failureText(failure);
    this.deps.logger.warn(
      {
        id: message.id,
        topic: message.topic,
        attempts: failure.attempts,
        status: failure.status,
        error,
      },
      "message failed: sent to errorTopic",
    );
    await this.publish(errorTopic, message, {
      body: message.body,
      headers: {
        ...message.headers,
        [ERROR_HEADER]: error,
        [STATUS_HEADER]: failure.status === undefined ? "" : String(failure.status),
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

/** The error header: why no answer came, or the failing status and the start of its body. */
function failureText(failure: Failed): string {
  if (failure.error !== undefined) return failure.error;
  const body = failure.body;
  const start = body.length > 0 ? `: ${body.subarray(0, 256).toString("utf8")}` : "";
  return `HTTP ${failure.status}${start}`;
}
