import { Redis } from "ioredis";
import { BackingUnavailableError } from "../../backing/backing.js";
import type { CloudEvent } from "../../events/event.js";
import type { SinkReceipt } from "../../events/ingress-target.js";
import { eventToFields, redactAddress } from "../../events/redis-stream-binding.js";
import type { Logger } from "../../observability/logger.js";
import { type RedisConnectionSpec, redisOptions } from "../../sources/redis-stream/connection.js";
import type { RunnableSink, SinkContext } from "../registry.js";

/** eventing-redis's RedisStreamSink (sinks.knative.dev/v1alpha1). */
export interface RedisStreamSinkSpec extends RedisConnectionSpec {
  readonly stream: string;
}

/**
 * RedisStreamSink: each event's data, a JSON array of field-value pairs as eventing-redis takes
 * it, is appended to `spec.stream` as one entry (XADD); the sink answers 202 once Redis has it.
 * Data of another shape answers 400 (eventing-redis drops it with a log line; a 400 lets the
 * sender dead-letter it instead).
 */
export class RedisStreamSink implements RunnableSink {
  private readonly redis: Redis;
  private readonly logger: Logger;
  private reported = false;

  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly spec: RedisStreamSinkSpec,
    context: SinkContext,
  ) {
    this.logger = context.logger;
    this.redis = new Redis(
      spec.address,
      redisOptions(spec, (secret, key) => context.secretValue(context.namespace, secret, key)),
    );
    this.redis.on("error", (error: Error) => {
      if (this.reported) return;
      this.reported = true;
      this.logger.warn(
        { err: error, address: redactAddress(spec.address) },
        "RedisStreamSink: connection lost; reconnecting",
      );
    });
    this.redis.on("ready", () => {
      this.reported = false;
    });
  }

  async receive(event: CloudEvent): Promise<SinkReceipt | undefined> {
    const fields = eventToFields(event);
    try {
      await this.redis.xadd(this.spec.stream, "*", ...fields);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BackingUnavailableError(`Redis did not store the event: ${reason}`, "redis", {
        cause: error,
      });
    }
    return undefined;
  }

  async close(): Promise<void> {
    if (this.redis.status === "ready") await this.redis.quit().catch(() => undefined);
    this.redis.disconnect();
  }
}
