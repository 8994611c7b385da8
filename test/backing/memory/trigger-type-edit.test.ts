import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import {
  brokerYaml,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../../support/sink.js";

/** The trigger's subscribe options carry its filter's pinned type to the memory backing. */
const FILTERS: Record<string, string> = {
  none: "",
  "attributes type a": "  filter:\n    attributes:\n      type: a",
  "attributes type b": "  filter:\n    attributes:\n      type: b",
  "filters exact type b": "  filters:\n    - exact:\n        type: b",
};

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function send(url: string, id: string): Promise<number> {
  const response = await request(url, {
    method: "POST",
    headers: {
      "ce-specversion": "1.0",
      "ce-id": id,
      "ce-source": "/test",
      "ce-type": id.split("-")[0]!,
      "content-type": "application/json",
    },
    body: "{}",
  });
  await response.body.dump();
  return response.statusCode;
}

function ids(sink: RecordingSink): string[] {
  return sink.events.map((event) => String(event.attributes["id"]));
}

describe("memory broker: a trigger whose type filter is edited", () => {
  it.each<[string, string, string, string[], string[]]>([
    [
      "type a to type b gets only b afterwards",
      "attributes type a",
      "attributes type b",
      ["a-1"],
      ["b-2"],
    ],
    [
      "no filter to exact type b gets only b afterwards",
      "none",
      "filters exact type b",
      ["a-1", "b-1"],
      ["b-2"],
    ],
    [
      "type a to no filter gets every type afterwards",
      "attributes type a",
      "none",
      ["a-1"],
      ["a-2", "b-2"],
    ],
    [
      "type b in another dialect keeps getting b",
      "attributes type b",
      "filters exact type b",
      ["b-1"],
      ["b-2"],
    ],
  ])("%s", async (_, before, after, expectedBefore, expectedAfter) => {
    const sink = await startSink();
    cleanups.push(() => sink.close());
    const running = await startWithManifests(
      brokerYaml() + triggerYaml("t", sink.url, FILTERS[before]),
    );
    cleanups.push(() => running.close());
    const ingress = `${running.url}/default/default`;
    for (const id of ["a-1", "b-1"]) expect(await send(ingress, id)).toBe(202);
    await sink.waitFor(expectedBefore.length);
    await sleep(200);
    expect(ids(sink)).toEqual(expectedBefore);
    writeFileSync(running.file, brokerYaml() + triggerYaml("t", sink.url, FILTERS[after]));
    expect(await running.reload()).toEqual([]);
    for (const id of ["a-2", "b-2"]) expect(await send(ingress, id)).toBe(202);
    await sink.waitFor(expectedBefore.length + expectedAfter.length);
    await sleep(200);
    expect(ids(sink).slice(expectedBefore.length)).toEqual(expectedAfter);
  });
});
