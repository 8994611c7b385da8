import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { connectAsync, type MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { MQTT_EVENT_TYPE } from "../../../src/events/mqtt-binding.js";
import {
  MqttSource,
  type MqttSourceSpec,
  QOS0_IN_FLIGHT_LIMIT,
} from "../../../src/sources/mqtt/mqtt-source.js";
import { waitFor } from "../../conformance/conformance-support.js";
import { serviceUrl } from "../../support/services.js";
import { SourceHarness } from "../harness.js";

const url = serviceUrl("mqtt");
const WAIT_MS = 15_000;

describe.skipIf(!url)("MqttSource against Mosquitto", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function publisher(): Promise<MqttClient> {
    const client = await connectAsync(url!, { protocolVersion: 5 });
    cleanups.push(() => client.endAsync());
    return client;
  }

  async function started(
    spec: Omit<MqttSourceSpec, "brokerUrl">,
    harness: SourceHarness,
    status: () => number | "hang",
  ) {
    const sink = await harness.recordingSink(() => {
      const answer = status();
      return answer === "hang" ? { hang: true } : { status: answer };
    });
    const source = new MqttSource(
      "iot",
      "sensors",
      { brokerUrl: url!, ...spec },
      undefined,
      harness.logger,
    );
    const stop = new AbortController();
    await source.start(harness.sinkTo(sink.url, { retry: 0, timeoutMs: 60_000 }, stop.signal));
    const stopSource = async () => {
      stop.abort();
      await source.stop();
    };
    await waitFor(() => source.ready(), WAIT_MS, "the source subscribed");
    return { sink, stop: stopSource, source };
  }

  it("wildcard filters, QoS 0 and 1: type, source, subject, content type and user properties", async () => {
    const root = `eventail-test/${randomBytes(4).toString("hex")}`;
    const harness = new SourceHarness();
    cleanups.push(() => harness.close());
    const { sink, stop } = await started(
      {
        topics: [`${root}/+/temp`, `${root}/alerts/#`],
        qos: 1,
        clientId: `t-${randomBytes(4).toString("hex")}`,
      },
      harness,
      () => 202,
    );
    cleanups.push(stop);
    const client = await publisher();
    await client.publishAsync(`${root}/kitchen/temp`, "21.5", {
      qos: 1,
      properties: {
        contentType: "text/plain",
        userProperties: { Room: "kitchen", "not valid!": "x" },
      },
    });
    await client.publishAsync(`${root}/alerts/fire/now`, '{"level":3}', { qos: 0 });
    await client.publishAsync(`${root}/kitchen/humidity`, "40", { qos: 1 }); // matches no filter
    await waitFor(() => sink.requests.length >= 2, WAIT_MS, "two messages at the sink");
    await sleep(300);
    expect(sink.requests).toHaveLength(2);
    const temp = sink.requests.find(
      (r) => r.event?.attributes["subject"] === `${root}/kitchen/temp`,
    )!.event!;
    expect(temp.attributes).toMatchObject({
      type: MQTT_EVENT_TYPE,
      source: `${url}/${root}/kitchen/temp`,
      datacontenttype: "text/plain",
      room: "kitchen",
    });
    expect(Object.keys(temp.attributes)).not.toContain("not valid!");
    expect(temp.data?.toString()).toBe("21.5");
    const alert = sink.requests.find(
      (r) => r.event?.attributes["subject"] === `${root}/alerts/fire/now`,
    )!.event!;
    expect(alert.data?.toString()).toBe('{"level":3}');
  });

  it(`QoS 0: at most ${QOS0_IN_FLIGHT_LIMIT} deliveries in flight, messages past that dropped and counted`, async () => {
    const root = `eventail-test/${randomBytes(4).toString("hex")}`;
    const harness = new SourceHarness();
    cleanups.push(() => harness.close());
    const { sink, stop, source } = await started(
      { topics: [`${root}/#`], qos: 0, clientId: `t-${randomBytes(4).toString("hex")}` },
      harness,
      () => "hang", // a sink that never answers: every delivery stays in flight
    );
    cleanups.push(stop);
    const client = await publisher();
    const extra = 5;
    for (let i = 0; i < QOS0_IN_FLIGHT_LIMIT + extra; i++) {
      await client.publishAsync(`${root}/reading`, String(i), { qos: 0 });
    }
    // One connection, in order: the first LIMIT start deliveries, the last `extra` find it full.
    await waitFor(
      () => source.qos0Dropped === extra,
      WAIT_MS,
      "the QoS 0 messages past the limit dropped",
      () => source.qos0Dropped,
    );
    await waitFor(
      () => sink.requests.length >= QOS0_IN_FLIGHT_LIMIT,
      WAIT_MS,
      "the deliveries in flight",
      () => sink.requests.length,
    );
    expect(sink.requests).toHaveLength(QOS0_IN_FLIGHT_LIMIT);
  });

  it("QoS 1: a message whose delivery was cut short is sent again to the next session of the source", async () => {
    const root = `eventail-test/${randomBytes(4).toString("hex")}`;
    const clientId = `t-${randomBytes(4).toString("hex")}`;
    const spec = { topics: [`${root}/#`], qos: 1 as const, clientId };
    const first = new SourceHarness();
    const firstRun = await started(spec, first, () => "hang");
    const client = await publisher();
    await client.publishAsync(`${root}/order`, "one", { qos: 1 });
    await waitFor(() => firstRun.sink.requests.length === 1, WAIT_MS, "the delivery in flight");
    await firstRun.stop(); // no PUBACK was sent: Mosquitto keeps it for the session
    await first.close();

    const second = new SourceHarness();
    cleanups.push(() => second.close());
    const secondRun = await started(spec, second, () => 202);
    cleanups.push(secondRun.stop);
    await waitFor(
      () => secondRun.sink.requests.some((r) => r.event?.data?.toString() === "one"),
      WAIT_MS,
      "the unacknowledged message again",
    );
    // Acknowledged this time: a third session gets nothing more.
    await secondRun.stop();
    const third = new SourceHarness();
    cleanups.push(() => third.close());
    const thirdRun = await started(spec, third, () => 202);
    cleanups.push(thirdRun.stop);
    await sleep(1_000);
    expect(thirdRun.sink.requests).toHaveLength(0);
  });
});
