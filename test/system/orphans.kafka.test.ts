import { Writable } from "node:stream";
import { createLogger } from "../../src/observability/logger.js";
import { FAST_GROUPS } from "../backing/kafka/kafka-fixtures.js";
import { serviceUrl } from "../support/services.js";
import { describeOrphans } from "./orphans-suite.js";

const brokers = serviceUrl("kafka");

/**
 * librdkafka's mock cluster refuses DeleteGroups, DescribeGroups, ListGroups and CreateTopics,
 * so the engine cannot be asked what it keeps: these runs show that deleting a trigger, renaming
 * it or deleting its broker leaves the remaining triggers whole and the reconcile complete, and
 * that each removal was asked for (the refusal is logged as a warning naming the group).
 */
describeOrphans({
  kind: "kafka",
  connection: () => (brokers ? { "bootstrap.servers": brokers, ...FAST_GROUPS } : undefined),
  consumers: async () => undefined,
  retained: async () => undefined,
  retainedWhenDone: 0,
  streamExists: async () => undefined,
  forget: async () => undefined,
  logger: () => {
    const warnings: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split("\n")) {
          if (line.includes('"level":40')) warnings.push(line);
        }
        done();
      },
    });
    return { logger: createLogger({ level: "warn", destination }), warnings: () => warnings };
  },
});
