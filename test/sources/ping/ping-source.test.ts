import { describe, expect, it } from "vitest";
import { NO_RESPONSE } from "../../../src/delivery/options.js";
import type { CloudEvent } from "../../../src/events/event.js";
import { silentLogger } from "../../../src/observability/logger.js";
import { PingSource, parseSchedule } from "../../../src/sources/ping/ping-source.js";

const source = (spec: ConstructorParameters<typeof PingSource>[2]) =>
  new PingSource("team-a", "heartbeat", spec, silentLogger());

describe("PingSource", () => {
  it.each<[string, string, string | undefined, string, string]>([
    [
      "every minute fires at the next minute boundary",
      "* * * * *",
      undefined,
      "2026-01-01T10:00:30Z",
      "2026-01-01T10:01:00.000Z",
    ],
    [
      "@hourly fires at the top of the hour",
      "@hourly",
      undefined,
      "2026-01-01T10:15:00Z",
      "2026-01-01T11:00:00.000Z",
    ],
    [
      "@daily fires at midnight",
      "@daily",
      undefined,
      "2026-01-01T10:15:00Z",
      "2026-01-02T00:00:00.000Z",
    ],
    [
      "CRON_TZ= prefix shifts the schedule",
      "CRON_TZ=Europe/Paris 0 9 * * *",
      undefined,
      "2026-01-01T00:00:00Z",
      "2026-01-01T08:00:00.000Z",
    ],
    [
      "spec.timezone shifts the schedule",
      "0 9 * * *",
      "America/New_York",
      "2026-01-01T00:00:00Z",
      "2026-01-01T14:00:00.000Z",
    ],
    [
      "spec.timezone wins over CRON_TZ",
      "CRON_TZ=Europe/Paris 0 9 * * *",
      "UTC",
      "2026-01-01T00:00:00Z",
      "2026-01-01T09:00:00.000Z",
    ],
  ])("%s", (_name, schedule, timezone, from, next) => {
    const ping = source({ schedule, ...(timezone ? { timezone } : {}) });
    expect(ping.nextRun(new Date(from))?.toISOString()).toBe(next);
  });

  it("splits CRON_TZ from the pattern", () => {
    expect(parseSchedule("CRON_TZ=Asia/Tokyo */5 * * * *")).toEqual({
      pattern: "*/5 * * * *",
      timezone: "Asia/Tokyo",
    });
  });

  it("emits Knative's ping attributes with data, contentType and ceOverrides", () => {
    const at = new Date("2026-03-01T12:00:00Z");
    const event = source({
      schedule: "* * * * *",
      contentType: "application/json",
      data: '{"hello":"world"}',
      ceOverrides: { extensions: { team: "a" } },
    }).eventAt(at);
    expect(event.attributes).toMatchObject({
      specversion: "1.0",
      type: "dev.knative.sources.ping",
      source: "/apis/v1/namespaces/team-a/pingsources/heartbeat",
      time: "2026-03-01T12:00:00.000Z",
      datacontenttype: "application/json",
      team: "a",
    });
    expect(String(event.attributes["id"])).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.data?.toString()).toBe('{"hello":"world"}');
  });

  it("decodes dataBase64 into the payload bytes", () => {
    const event = source({
      schedule: "* * * * *",
      dataBase64: Buffer.from([0, 1, 2, 255]).toString("base64"),
      contentType: "application/octet-stream",
    }).eventAt(new Date());
    expect([...event.data!]).toEqual([0, 1, 2, 255]);
  });

  it("fires on its schedule and hands each event to the sink (seconds field, so no minute of waiting)", async () => {
    const received: CloudEvent[] = [];
    const ping = source({ schedule: "* * * * * *", data: "{}" });
    await ping.start(async (event) => {
      received.push(event);
      return { kind: "delivered", status: 202, attempts: 1, ...NO_RESPONSE };
    });
    await new Promise((resolve) => setTimeout(resolve, 2_200));
    await ping.stop();
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.length).toBeLessThanOrEqual(3);
    const ids = new Set(received.map((e) => e.attributes["id"]));
    expect(ids.size).toBe(received.length);
  });
});
