import type { Admin, ConfigResourceTypes, Kafka } from "kafkajs";
import type { Logger } from "../../observability/logger.js";
import { withDeadline } from "./deadline.js";
import type { KafkaSettings } from "./settings.js";

/**
 * The backing's one admin connection: topic creation, readiness probes, and the offset look-ups
 * a consumer group needs when it is positioned. Connects on first use and again after a failure.
 */
export class KafkaAdmin {
  private readonly admin: Admin;
  private connecting: Promise<void> | undefined;
  private readonly topics = new Map<string, Promise<void>>();
  /** Topics this backing's CreateTopics made: the only ones it deletes with their stream. */
  private readonly created = new Set<string>();
  /** retention.ms wanted per topic (CONTRACT §5 `eventail.io/retention`). */
  private readonly retention = new Map<string, number>();

  constructor(
    kafka: Kafka,
    private readonly settings: KafkaSettings,
    private readonly logger: Logger,
  ) {
    this.admin = kafka.admin({ retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 } });
    this.admin.on(this.admin.events.DISCONNECT, () => {
      this.connecting = undefined;
    });
  }

  /** Runs `work` on a connected admin client, within `ms`. */
  async use<T>(
    work: (admin: Admin) => Promise<T>,
    ms = this.settings.requestTimeoutMs,
  ): Promise<T> {
    const run = async () => {
      this.connecting ??= this.admin.connect().catch((error: unknown) => {
        this.connecting = undefined;
        throw error;
      });
      await this.connecting;
      return work(this.admin);
    };
    const timedOut = new Error(`Kafka admin request timed out after ${ms} ms`);
    try {
      return await withDeadline(run(), ms, () => timedOut);
    } catch (error) {
      if (error !== timedOut) throw error;
      // A connect to a hung cluster may never settle and never emit DISCONNECT: forget it, or
      // every later request would wait on it forever even after the cluster is back.
      const stale = this.connecting;
      this.connecting = undefined;
      if (stale) void this.admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Creates the topic with Eventail's partition count when the cluster allows it. Clusters that
   * refuse CreateTopics (librdkafka's mock among them) auto-create topics on first use instead,
   * so a refusal is not an error; an unreachable cluster is retried on the next call.
   */
  ensureTopic(topic: string): Promise<void> {
    let created = this.topics.get(topic);
    if (created === undefined) {
      created = this.createTopic(topic);
      this.topics.set(topic, created);
    }
    return created;
  }

  private async createTopic(topic: string): Promise<void> {
    try {
      const made = await this.use((admin) =>
        admin.createTopics({
          topics: [
            {
              topic,
              numPartitions: this.settings.numPartitions,
              replicationFactor: this.settings.replicationFactor,
              ...this.retentionEntries(topic),
            },
          ],
          waitForLeaders: true,
          timeout: this.settings.requestTimeoutMs,
        }),
      );
      if (made) this.created.add(topic);
    } catch (error) {
      if (isUnreachable(error)) this.topics.delete(topic);
      this.logger.debug(
        { topic, err: error },
        "Kafka refused CreateTopics; relying on topic auto-creation",
      );
    }
  }

  /**
   * Kafka never trims by acknowledgement: a topic keeps every record for its retention.ms
   * whatever the consumer groups read, so a broker's retention is that setting. It is never set
   * below Kafka's default of 7 days, so retention cannot make the cluster drop undelivered
   * records sooner than it would without it. New topics get it at CreateTopics; an existing one
   * through AlterConfigs. Clusters that refuse either (librdkafka's mock refuses both) keep their
   * own retention.ms: logged, not an error, since only a real Kafka shows the setting applied
   * (kafka-configs --describe --entity-type topics).
   */
  async retain(topic: string, retentionMs: number | undefined): Promise<void> {
    if (this.retention.get(topic) === retentionMs) return;
    if (retentionMs === undefined) {
      // The topic keeps what it was given; Kafka's default applies to topics created from now on.
      this.retention.delete(topic);
      return;
    }
    this.retention.set(topic, retentionMs);
    const known = this.topics.has(topic);
    await this.ensureTopic(topic);
    if (!known) return;
    try {
      await this.use((admin) =>
        admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: TOPIC_RESOURCE,
              name: topic,
              configEntries: [{ name: "retention.ms", value: retentionValue(retentionMs) }],
            },
          ],
        }),
      );
    } catch (error) {
      this.logger.warn(
        { topic, err: error },
        "Kafka refused AlterConfigs: the topic keeps its own retention.ms",
      );
    }
  }

  private retentionEntries(topic: string): { configEntries?: { name: string; value: string }[] } {
    const retentionMs = this.retention.get(topic);
    if (retentionMs === undefined) return {};
    return { configEntries: [{ name: "retention.ms", value: retentionValue(retentionMs) }] };
  }

  /**
   * Deletes a consumer group (its trigger was deleted). Kafka refuses while members remain (a
   * process still on the old configuration): the last one to leave deletes it. A cluster that
   * refuses DeleteGroups altogether (librdkafka's mock) keeps the group until its offsets expire
   * (offsets.retention.minutes); a group pins no retention on Kafka, so that is a warning only.
   * Rejects only when the cluster cannot be reached.
   */
  async deleteGroup(group: string): Promise<void> {
    try {
      await this.use((admin) => admin.deleteGroups([group]));
      this.logger.info({ group }, "deleted Kafka consumer group");
    } catch (error) {
      if (isUnreachable(error)) throw error;
      const outcome = groupErrorType(error);
      if (outcome === "GROUP_ID_NOT_FOUND") return;
      if (outcome === "NON_EMPTY_GROUP") {
        this.logger.info(
          { group },
          "Kafka consumer group still has members; the last one deletes it",
        );
        return;
      }
      this.logger.warn({ group, err: error }, "Kafka refused to delete the consumer group");
    }
  }

  /** Deletes the topic when this backing created it; a topic made by others is theirs to keep. */
  async deleteCreatedTopic(topic: string): Promise<void> {
    this.topics.delete(topic);
    if (!this.created.delete(topic)) return;
    try {
      await this.use((admin) =>
        admin.deleteTopics({ topics: [topic], timeout: this.settings.requestTimeoutMs }),
      );
      this.logger.info({ topic }, "deleted Kafka topic");
    } catch (error) {
      if (isUnreachable(error)) throw error;
      this.logger.warn({ topic, err: error }, "Kafka refused to delete the topic");
    }
  }

  async disconnect(): Promise<void> {
    await this.admin.disconnect().catch(() => undefined);
  }
}

/** Connection-level failures, as opposed to the cluster answering "no". */
export function isUnreachable(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name ?? "";
  const message = (error as { message?: string } | undefined)?.message ?? "";
  return (
    name === "KafkaJSConnectionError" ||
    name === "KafkaJSConnectionClosedError" ||
    name === "KafkaJSRequestTimeoutError" ||
    name === "KafkaJSNumberOfRetriesExceeded" ||
    name === "KafkaJSNoBrokerAvailableError" ||
    message.includes("timed out")
  );
}

/** The error type DeleteGroups gave for the one group asked about, if it names one. */
function groupErrorType(error: unknown): string | undefined {
  const groups = (error as { groups?: Array<{ error?: { type?: string } }> } | undefined)?.groups;
  return groups?.[0]?.error?.type ?? (error as { type?: string } | undefined)?.type;
}

/** ConfigResourceTypes.TOPIC: kafkajs declares the enum in its types but exports no value. */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/** Kafka's default log retention (log.retention.hours = 168). */
const KAFKA_DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;

function retentionValue(retentionMs: number): string {
  return String(Math.max(Math.ceil(retentionMs), KAFKA_DEFAULT_RETENTION_MS));
}
