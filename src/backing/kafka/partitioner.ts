import { randomInt } from "node:crypto";
import { type ICustomPartitioner, type Message, Partitioners } from "kafkajs";

/**
 * Where records go. Keyed records (a `partitionkey`) follow Kafka's default partitioner (murmur2
 * of the key, as the Java client does), so every process agrees. Keyless records sent together
 * stick to one partition (Kafka's sticky partitioning, KIP-480): a publish() call keeps its order
 * for ordered consumers, and each flush costs one produce request instead of one per partition.
 * Successive flushes rotate over the partitions, so processes sharing a consumer group share the
 * work.
 */
export class EventPartitioner {
  private readonly calls = new WeakMap<Message, number>();
  private nextCall = randomInt(0, 2 ** 31);

  /** Marks records that are sent together (one flush, one topic). */
  group(messages: readonly Message[]): void {
    const call = this.nextCall++;
    for (const message of messages) this.calls.set(message, call);
  }

  readonly create: ICustomPartitioner = () => {
    const keyed = Partitioners.DefaultPartitioner();
    return (args) => {
      const { message, partitionMetadata } = args;
      const call = this.calls.get(message);
      if (message.key !== null && message.key !== undefined) return keyed(args);
      if (call === undefined) return keyed(args);
      const available = partitionMetadata.filter((partition) => partition.leader >= 0);
      const choices = available.length > 0 ? available : partitionMetadata;
      return choices[call % choices.length]!.partitionId;
    };
  };
}
