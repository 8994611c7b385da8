import type { Resource } from "../resources/types.js";
import type { JobSinkSpec } from "./job/job-sink.js";
import type { KafkaSinkSpec } from "./kafka/kafka-sink.js";
import { LogSink } from "./log-sink.js";
import type { RedisStreamSinkSpec } from "./redis-stream/redis-stream-sink.js";
import type { RunnableSink, SinkContext, SinkKind } from "./registry.js";

/*
 * As with sources (src/sources/kinds.ts), a kind's code and client library (kafkajs, ioredis) are
 * imported when a manifest first uses that kind.
 */

const integrationSink: SinkKind = {
  kind: "IntegrationSink",
  create: async (_resource, context) => {
    const sink = new LogSink(context.namespace, context.name);
    return Object.assign(sink, { close: async () => undefined });
  },
};

const jobSink: SinkKind = {
  kind: "JobSink",
  create: async (resource: Resource, context: SinkContext): Promise<RunnableSink> => {
    const { JobSink, jobLaunch } = await import("./job/job-sink.js");
    return new JobSink(
      context.namespace,
      context.name,
      jobLaunch(resource as Resource<JobSinkSpec>, context),
      context.logger,
      context.metrics,
    );
  },
};

const kafkaSink: SinkKind = {
  kind: "KafkaSink",
  create: async (resource, context) => {
    const { KafkaSink } = await import("./kafka/kafka-sink.js");
    return new KafkaSink(context.namespace, context.name, resource.spec as KafkaSinkSpec, context);
  },
};

const redisStreamSink: SinkKind = {
  kind: "RedisStreamSink",
  create: async (resource, context) => {
    const { RedisStreamSink } = await import("./redis-stream/redis-stream-sink.js");
    return new RedisStreamSink(
      context.namespace,
      context.name,
      resource.spec as RedisStreamSinkSpec,
      context,
    );
  },
};

/** Every sink kind served at /sinks/{namespace}/{name}. */
export const SINK_KINDS: readonly SinkKind[] = [
  integrationSink,
  jobSink,
  kafkaSink,
  redisStreamSink,
];
