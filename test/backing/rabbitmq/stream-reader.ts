import { randomUUID } from "node:crypto";
import { connect } from "amqplib";

export interface StreamMessage {
  readonly headers: Record<string, unknown>;
  readonly content: Buffer;
}

/**
 * Every message of a stream queue as a plain AMQP client sees it, read from the first offset up
 * to a marker this appends (so the end is exact, not a message count). The marker has no
 * `eventail-kind`, which the stores skip.
 */
export async function readStream(url: string, queue: string): Promise<StreamMessage[]> {
  const model = await connect(url);
  try {
    const marker = randomUUID();
    const writer = await model.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      writer.sendToQueue(queue, Buffer.alloc(0), { messageId: marker }, (error: unknown) =>
        error ? reject(error) : resolve(),
      ),
    );
    const channel = await model.createChannel();
    await channel.prefetch(1000);
    const seen: StreamMessage[] = [];
    await new Promise<void>((resolve) => {
      void channel.consume(
        queue,
        (msg) => {
          if (msg === null) return;
          channel.ack(msg);
          if (msg.properties.messageId === marker) resolve();
          else seen.push({ headers: msg.properties.headers ?? {}, content: msg.content });
        },
        { noAck: false, arguments: { "x-stream-offset": "first" } },
      );
    });
    return seen;
  } finally {
    await model.close();
  }
}

/** Entries of `namespace` on a dead-letter stream that no tombstone removed, by offset. */
export async function liveDeadLetters(url: string, queue: string, namespace: string) {
  const live = new Set<number>();
  for (const { headers } of await readStream(url, queue)) {
    if (headers["eventail-namespace"] !== namespace) continue;
    if (headers["eventail-kind"] === "entry") live.add(Number(headers["x-stream-offset"]));
    if (headers["eventail-kind"] === "remove") live.delete(Number(headers["eventail-entry"]));
  }
  return live.size;
}
