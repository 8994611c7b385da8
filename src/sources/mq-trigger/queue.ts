/**
 * The user's message queue as a MessageQueueTrigger sees it: consume one topic, publish to the
 * reply and error topics. Kafka, NATS JetStream and Redis Streams implement it.
 */
export interface QueueMessage {
  /** Unique within the topic: `partition:0/offset:7`, a stream sequence, an entry id. */
  readonly id: string;
  readonly topic: string;
  readonly body: Buffer;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface OutgoingMessage {
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Handles one message; resolves true once it is finished with (its reply or error published, or
 * given up on) so the queue may acknowledge it, false when shutdown cut it short.
 */
export type MessageHandler = (message: QueueMessage) => Promise<boolean>;

export interface MessageQueue {
  /** Starts consuming in the background (connecting with backoff); returns at once. */
  start(handler: MessageHandler): void;
  publish(topic: string, message: OutgoingMessage): Promise<void>;
  /** Stops consuming, waits for the message in hand, disconnects. */
  stop(): Promise<void>;
}
