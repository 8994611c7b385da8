/**
 * PingSource ticks delivered over real HTTP (a Dispatcher towards a RecordingSink on 127.0.0.1).
 * Schedules use croner's seconds field so that ticks come every second, not every minute.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/observability/logger.js";
import { PingSource, type PingSourceSpec } from "../../../src/sources/ping/ping-source.js";
import { eventually, type Responder, startWithManifests } from "../../support/sink.js";
import { SourceHarness } from "../harness.js";

let harness: SourceHarness;
beforeEach(() => {
  harness = new SourceHarness();
});
afterEach(async () => {
  await harness.close();
});

/** Starts a PingSource towards a fresh sink; stopped (its deliveries aborted) before the sink closes. */
async function run(
  spec: PingSourceSpec,
  responder: Responder,
  delivery: Parameters<SourceHarness["sinkTo"]>[1] = {},
  maxTicksInFlight?: number,
) {
  const sink = await harness.recordingSink(responder);
  const aborted = new AbortController();
  const ping = new PingSource("default", "ticker", spec, silentLogger(), maxTicksInFlight);
  await ping.start(harness.sinkTo(sink.url, delivery, aborted.signal));
  harness.defer(async () => {
    await ping.stop();
    aborted.abort();
  });
  return { sink, ping };
}

const idOf = (request: { event?: { attributes: Record<string, unknown> } }) =>
  String(request.event?.attributes["id"]);

describe("PingSource ticks over HTTP", () => {
  it("delivers each tick on its own while an earlier tick's delivery is still retrying", async () => {
    let first: string | undefined;
    const { sink } = await run(
      { schedule: "* * * * * *" },
      (request) => {
        first ??= idOf(request);
        return { status: idOf(request) === first ? 500 : 202 };
      },
      // The first tick keeps failing for far longer than the test waits.
      { retry: 30, backoffPolicy: "linear", backoffDelayMs: 1_000 },
    );
    const later = () => new Set(sink.requests.map(idOf).filter((id) => id !== first));
    await eventually(() => later().size >= 2, 10_000, "two later ticks delivered");
    expect(sink.requests.filter((r) => idOf(r) === first).length).toBeGreaterThanOrEqual(1);
  });

  it("skips a tick when maxTicksInFlight earlier ticks are still in delivery (a dead sink)", async () => {
    const { sink, ping } = await run({ schedule: "* * * * * *" }, () => ({ hang: true }), {}, 2);
    await eventually(() => sink.requests.length === 2, 10_000, "two ticks in delivery");
    await eventually(() => ping.ticksSkipped >= 1, 10_000, "a tick skipped");
    expect(sink.requests).toHaveLength(2);
  });

  it("runs a schedule prefixed TZ= (as robfig/cron and validation accept), like CRON_TZ=", async () => {
    const { sink } = await run({ schedule: "TZ=Europe/Paris * * * * * *" }, () => ({
      status: 202,
    }));
    await sink.waitFor(1);
    expect(sink.events[0]?.attributes["type"]).toBe("dev.knative.sources.ping");
    const running = await startWithManifests(`apiVersion: sources.knative.dev/v1
kind: PingSource
metadata:
  name: morning
spec:
  schedule: "TZ=Europe/Paris 0 9 * * *"
  sink:
    uri: ${sink.url}
`);
    harness.defer(() => running.close());
    const answer = await fetch(`${running.url}/api/v1/resources/pingsources/default/morning`);
    const { status } = (await answer.json()) as { status: { conditions: unknown[] } };
    expect(status.conditions).toContainEqual(
      expect.objectContaining({ type: "Ready", status: "True" }),
    );
  });

  it("reads a schedule without a zone in UTC, not in the host's zone (process TZ America/New_York)", async () => {
    const hostZone = process.env["TZ"];
    // Node reads TZ again when it is assigned; New York is 4 or 5 hours off UTC all year.
    process.env["TZ"] = "America/New_York";
    harness.defer(async () => {
      if (hostZone === undefined) delete process.env["TZ"];
      else process.env["TZ"] = hostZone;
    });
    expect(new Date(Date.UTC(2026, 0, 1, 12)).getHours()).toBe(7);
    // Second, minute and hour (UTC) of a moment 3 s away: read in New York it is hours away.
    const at = new Date(Date.now() + 3_000);
    const schedule = `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
    const { sink, ping } = await run({ schedule }, () => ({ status: 202 }));
    expect(ping.nextRun(new Date(Date.UTC(2026, 0, 1, 0, 0, 0)))?.getUTCHours()).toBe(
      at.getUTCHours(),
    );
    await eventually(() => sink.events.length >= 1, 10_000, "the tick at the UTC time");
  });

  it.each<
    [string, Omit<PingSourceSpec, "schedule">, string | undefined, string, string | undefined]
  >([
    [
      "data without contentType: no content type",
      { data: '{"a":1}' },
      undefined,
      '{"a":1}',
      undefined,
    ],
    [
      "data with contentType: that one",
      { data: "hi", contentType: "text/plain" },
      "text/plain",
      "hi",
      "text/plain",
    ],
    [
      'data "": no data and no content type',
      { data: "", contentType: "text/plain" },
      undefined,
      "",
      undefined,
    ],
  ])("sends what Knative's adapter sends: %s", async (_name, spec, attribute, body, header) => {
    const { sink } = await run({ schedule: "* * * * * *", ...spec }, () => ({ status: 202 }));
    const [request] = await sink.waitFor(1);
    expect(request!.event?.attributes["datacontenttype"]).toBe(attribute);
    expect(request!.event?.data).toEqual(body === "" ? undefined : Buffer.from(body));
    expect(request!.body.toString()).toBe(body);
    expect(request!.headers["content-type"]).toBe(header);
  });
});
