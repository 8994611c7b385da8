import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import type { CloudEvent } from "../../src/events/event.js";
import { silentLogger } from "../../src/observability/logger.js";
import {
  REPLAY_EXTENSION,
  ReplayService,
  type ReplayTrigger,
} from "../../src/operations/replay.js";
import { testEvents, waitFor } from "../conformance/conformance-support.js";

async function archived(count: number): Promise<MemoryBacking> {
  const backing = new MemoryBacking();
  await backing.retainStream("s", 60_000);
  await backing.publish("s", testEvents("e", count));
  return backing;
}

function service(backing: MemoryBacking, triggers: ReplayTrigger[], concurrency = 3) {
  return new ReplayService({
    logger: silentLogger(),
    concurrency,
    stores: () => [],
    target: () => ({ stream: "s", retained: true, archive: backing.archive, triggers }),
  });
}

const WINDOW = { namespace: "default", broker: "b", from: "2000-01-01T00:00:00Z" } as const;

describe("replay service", () => {
  it("never has more than its concurrency of events in delivery at once", async () => {
    const backing = await archived(20);
    let inFlight = 0;
    let most = 0;
    const held: Array<() => void> = [];
    const seen: CloudEvent[] = [];
    const trigger: ReplayTrigger = {
      name: "t",
      replay: (event) => {
        seen.push(event);
        inFlight++;
        most = Math.max(most, inFlight);
        return new Promise<void>((resolve) =>
          held.push(() => {
            inFlight--;
            resolve();
          }),
        );
      },
    };
    const replays = service(backing, [trigger]);
    const id = replays.start(WINDOW);
    // Release whatever is held, a few at a time, until all 20 went through.
    await waitFor(
      () => {
        for (const release of held.splice(0, 2)) release();
        return seen.length === 20 && inFlight === 0;
      },
      10_000,
      "every event delivered",
    );
    await replays.idle();
    expect(most).toBe(3);
    expect(await replays.status(id)).toEqual({ id, state: "completed", sent: 20, total: 20 });
    expect(seen.every((event) => event.attributes[REPLAY_EXTENSION] === id)).toBe(true);
    await backing.close();
  });

  it("a delivery that cannot be handled fails the replay, with the reason", async () => {
    const backing = await archived(5);
    const replays = service(backing, [
      { name: "t", replay: () => Promise.reject(new Error("delivery interrupted by shutdown")) },
    ]);
    const id = replays.start(WINDOW);
    await replays.idle();
    expect(await replays.status(id)).toMatchObject({
      state: "failed",
      sent: 0,
      total: 5,
      error: "delivery interrupted by shutdown",
    });
    await backing.close();
  });

  it("reads a large archive in slices, letting the event loop turn between them", async () => {
    // A memory archive is read in microtasks only: in one go, nothing else (live deliveries)
    // ran until all of it was read, here twice over 5,000 events that the filter leaves out.
    const backing = await archived(5_000);
    const replays = service(backing, [{ name: "t", replay: () => Promise.resolve() }]);
    const id = replays.start({ ...WINDOW, filter: "type = 'none'" });
    await nextTurn();
    expect(await replays.status(id)).toMatchObject({ state: "running", sent: 0 });
    await replays.idle();
    expect(await replays.status(id)).toEqual({ id, state: "completed", sent: 0, total: 0 });
    await backing.close();
  });

  it("a total counted before the archive let go of some entries ends as what was replayed", async () => {
    // A full ring overwrites its oldest entries as live events come in between the two passes.
    const backing = new MemoryBacking({ archiveSize: 1_000 });
    await backing.retainStream("s", 60_000);
    await backing.publish("s", testEvents("old", 1_000));
    const seen: string[] = [];
    const replays = service(backing, [
      { name: "t", replay: async (event) => void seen.push(event.attributes.id as string) },
    ]);
    const id = replays.start(WINDOW);
    await nextTurn();
    await backing.publish("s", testEvents("new", 10));
    await replays.idle();
    const status = await replays.status(id);
    expect(status).toMatchObject({ state: "completed", sent: seen.length, total: seen.length });
    expect(seen.length).toBeGreaterThan(0);
    await backing.close();
  });
});
