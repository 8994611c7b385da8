import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { progressBar, replayCommand, replayTime } from "../../src/cli/replay.js";
import { REPLAY_EXTENSION } from "../../src/operations/replay.js";
import {
  brokerYaml,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class Captured {
  text = "";
  constructor(readonly isTTY: boolean) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

async function publish(url: string, id: string): Promise<void> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/replay-cli",
      "ce-type": "t",
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  expect(response.statusCode).toBe(202);
}

describe("eventail replay", () => {
  it("a duration means that long ago; RFC 3339 passes as given", () => {
    expect(replayTime("PT1H", Date.parse("2026-01-01T12:00:00Z"))).toBe("2026-01-01T11:00:00.000Z");
    expect(replayTime("2026-01-01T00:00:00Z")).toBe("2026-01-01T00:00:00Z");
  });

  it("the bar fills with sent/total", () => {
    expect(progressBar({ sent: 0, total: 4 })).toBe(`[${"-".repeat(30)}]   0% 0/4`);
    expect(progressBar({ sent: 2, total: 4 })).toBe(
      `[${"#".repeat(15)}${"-".repeat(15)}]  50% 2/4`,
    );
    expect(progressBar({ sent: 0, total: 0 })).toBe(`[${"#".repeat(30)}] 100% 0/0`);
  });

  it.each([
    [true, /\r\[#{30}\] 100% 3\/3\n/],
    [false, /^replay \S+ started\nreplay \S+ completed: 3 of 3 event\(s\) sent\n$/],
  ])("replays over HTTP and follows it to the end (TTY %s)", async (tty, expected) => {
    const s: RecordingSink = await startSink();
    cleanups.push(() => s.close());
    const running = await startWithManifests(
      `${brokerYaml("default", "  annotations:\n    eventail.io/retention: PT10M")}${triggerYaml("t", s.url)}`,
    );
    cleanups.push(() => running.close());
    for (const id of ["a", "b", "c"]) await publish(`${running.url}/default/default`, id);
    await s.waitFor(3);
    const out = new Captured(tty);
    const err = new Captured(false);
    const code = await replayCommand(
      { broker: "default/default", from: "PT10M", server: running.url },
      out,
      err,
    );
    expect({ code, err: err.text }).toEqual({ code: 0, err: "" });
    expect(out.text).toMatch(expected);
    const id = /replay (\S+) started/.exec(out.text)![1];
    expect(
      s.events.filter((e) => e.attributes[REPLAY_EXTENSION] === id).map((e) => e.attributes["id"]),
    ).toEqual(["a", "b", "c"]);
  });

  it("says why the server refused, exit 1", async () => {
    const running = await startWithManifests(brokerYaml());
    cleanups.push(() => running.close());
    const out = new Captured(false);
    const err = new Captured(false);
    const code = await replayCommand(
      { broker: "default/default", from: "PT1M", server: running.url },
      out,
      err,
    );
    expect(code).toBe(1);
    expect(err.text).toMatch(
      /^eventail replay: broker default\/default keeps no events for replay/,
    );
    expect(
      await replayCommand({ broker: "nodash", from: "PT1M", server: running.url }, out, err),
    ).toBe(1);
    expect(err.text).toMatch(/--broker must be NAMESPACE\/NAME/);
  });
});
