/**
 * What Kafka itself costs at 1,000 events/s: a bare kafkajs producer (acks from every in-sync
 * replica, one send per event on schedule) and a consumer in its own group, on the same kcat mock
 * cluster Eventail's kafka-1 uses, produce → consume p99; next to Eventail on Kafka, 1 trigger,
 * at the same open-loop rate (producer → sink p99, which adds two HTTP hops).
 */
import { randomBytes } from "node:crypto";
import hdr from "hdr-histogram-js";
import { Kafka, logLevel } from "kafkajs";
import type { PhaseReport } from "../processes/protocol.js";
import { probe, type RunningTarget, ScenarioLoad, startTarget } from "../run-scenario.js";
import type { Scenario } from "../scenarios.js";
import { nowUs } from "../support/clock.js";
import { fmt, times } from "./format.js";
import { type Extra, type ExtraContext, SkipExtra } from "./types.js";

export const KAFKA_RATE = 1_000;

interface Percentiles {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly count: number;
  readonly sent: number;
}

/** Bare producer → consumer latency at `rate` events/s for `durationMs` after `warmMs`. */
async function bareKafka(
  brokers: string,
  rate: number,
  warmMs: number,
  durationMs: number,
): Promise<Percentiles> {
  const kafka = new Kafka({
    clientId: "eventail-bench-baseline",
    brokers: brokers.split(","),
    logLevel: logLevel.NOTHING,
  });
  const topic = `bench-baseline-${randomBytes(4).toString("hex")}`;
  // Auto-created by the first send, as Eventail's publisher lets the mock cluster do.
  const producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true });
  const consumer = kafka.consumer({ groupId: `${topic}-group`, maxWaitTimeInMs: 100 });
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let measuring = false;
  let received = 0;
  let firstMeasured = Number.POSITIVE_INFINITY;
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: "-1 0" }] });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const [index, sent] = String(message.value).split(" ").map(Number);
        if (index! >= firstMeasured && index! >= 0) {
          histogram.recordValue(Math.max(1, nowUs() - sent!));
          received++;
        }
      },
    });
    // The group's first assignment takes a moment: wait for a message to come back.
    const sendAt = async (count: number, offset: number) => {
      const intervalUs = 1e6 / rate;
      const startUs = nowUs();
      const inFlight: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        const due = startUs + i * intervalUs;
        const wait = (due - nowUs()) / 1000;
        if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
        inFlight.push(
          producer.send({
            topic,
            acks: -1,
            messages: [{ value: `${offset + i} ${nowUs()}` }],
          }),
        );
      }
      await Promise.all(inFlight);
    };
    const warmCount = Math.max(1, Math.round((rate * warmMs) / 1000));
    await sendAt(warmCount, 0);
    firstMeasured = warmCount;
    measuring = true;
    const count = Math.round((rate * durationMs) / 1000);
    await sendAt(count, warmCount);
    const deadline = Date.now() + 30_000;
    while (received < count && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return {
      p50Ms: histogram.getValueAtPercentile(50) / 1000,
      p99Ms: histogram.getValueAtPercentile(99) / 1000,
      count: received,
      sent: measuring ? count : 0,
    };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
  }
}

const KAFKA_1: Scenario = {
  id: "kafka-baseline-eventail",
  title: "kafka, 1 trigger",
  target: { kind: "eventail", backing: "kafka", triggers: 1, filtered: false },
  types: ["dev.eventail.bench.order"],
  fanout: 1,
};

async function eventailKafka(context: ExtraContext, problems: string[]) {
  const { harness, engines, settings } = context;
  let target: RunningTarget | undefined;
  try {
    const started = await startTarget(KAFKA_1, harness, engines, settings);
    if ("skip" in started) throw new SkipExtra(started.skip);
    target = started;
    const unreachable = await probe(KAFKA_1, harness, target);
    if (unreachable) throw new Error(`kafka-1: ${unreachable}`);
    const load = new ScenarioLoad(KAFKA_1, target, harness, settings);
    await load.drain("warmup", await load.open("warmup", settings.latencyWarmMs, KAFKA_RATE));
    const open = await load.open("latency", settings.latencyMs, KAFKA_RATE);
    const report: PhaseReport = await load.drain("latency", open);
    problems.push(...load.problems.map((p) => `kafka-1: ${p}`));
    return { p50Ms: report.p50Us / 1000, p99Ms: report.p99Us / 1000 };
  } finally {
    await target?.stop();
  }
}

export const kafkaBaselineExtra: Extra = {
  id: "kafka-baseline",
  title: `Kafka p99 at ${fmt(KAFKA_RATE)} events/s`,
  async run(context, problems) {
    const located = await context.engines.locate("kafka");
    if ("skip" in located) throw new SkipExtra(located.skip);
    const { settings } = context;
    const bare = await bareKafka(
      located.url,
      KAFKA_RATE,
      settings.latencyWarmMs,
      settings.latencyMs,
    );
    if (bare.count < bare.sent) {
      problems.push(`bare kafkajs: ${bare.sent - bare.count} of ${bare.sent} never consumed`);
    }
    const eventail = await eventailKafka(context, problems);
    const ratio = times(eventail.p99Ms, bare.p99Ms);
    return {
      id: this.id,
      title: this.title,
      rows: [
        {
          what: "p99 (eventail: producer → sink; baseline: kafkajs produce → consume)",
          figure: `${fmt(eventail.p99Ms, 2)} ms`,
          baseline: `${fmt(bare.p99Ms, 2)} ms`,
          ...(ratio ? { ratio } : {}),
        },
        {
          what: "p50",
          figure: `${fmt(eventail.p50Ms, 2)} ms`,
          baseline: `${fmt(bare.p50Ms, 2)} ms`,
          ...(times(eventail.p50Ms, bare.p50Ms)
            ? { ratio: times(eventail.p50Ms, bare.p50Ms)! }
            : {}),
        },
      ],
    };
  },
};
