import type { ResourceRule } from "../resources/rules/check.js";
import { checkRedisConnection } from "../sources/redis-stream/validate.js";
import { validate as jobSink } from "./job/validate.js";
import { validate as kafkaSink } from "./kafka/validate.js";

/**
 * Each sink kind's semantic rules (what its CRD schema cannot say), by kind, in the resource
 * model's rule shape. That a name is unique across sink kinds follows from their shared address
 * (src/resources/addresses.ts), which validation already checks.
 */
export const SINK_VALIDATORS: Readonly<Record<string, ResourceRule>> = {
  JobSink: jobSink,
  KafkaSink: kafkaSink,
  RedisStreamSink: checkRedisConnection,
};
