import { describe, expect, it } from "vitest";
import { StreamLog } from "../../src/backing/memory/stream-log.js";
import { testEvent } from "./conformance-support.js";

/** A reader as the consumer groups drive it: take the event at the cursor, then advance. */
function read(log: StreamLog, cursor: number, count: number): { cursor: number; ids: string[] } {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(String(log.at(cursor).attributes["id"]));
    cursor++;
    log.advanced(cursor);
  }
  return { cursor, ids };
}

function publish(log: StreamLog, from: number, count: number): void {
  for (let i = from; i < from + count; i++) log.append(testEvent(`e${i}`));
}

describe("memory backing: stream log trimming", () => {
  it.each([
    ["a reader that caught up leaves at most one chunk", [1000], 1],
    ["the slowest reader holds every chunk from its cursor on", [1000, 0], 16],
    ["a reader halfway through holds the chunks it has yet to read", [1000, 500], 9],
  ])("%s", (_, progress, retained) => {
    const log = new StreamLog();
    const cursors = progress.map(() => log.addReader());
    publish(log, 0, 1000);
    progress.forEach((count, i) => {
      cursors[i] = read(log, cursors[i]!, count).cursor;
    });
    expect(log.retainedChunks).toBe(retained);
  });

  it("releases what only a removed reader still needed", () => {
    const log = new StreamLog();
    const fast = log.addReader();
    const slow = log.addReader();
    publish(log, 0, 1000);
    read(log, fast, 1000);
    expect(log.retainedChunks).toBe(16);
    log.removeReader(slow);
    expect(log.retainedChunks).toBe(1);
  });

  it("a single reader lets each event go as soon as it has read it, inside a chunk too", () => {
    const log = new StreamLog();
    const cursor = log.addReader();
    publish(log, 0, 10);
    expect(log.retainedEvents).toBe(10);
    read(log, cursor, 7);
    expect(log.retainedEvents).toBe(3);
    expect(log.retainedChunks).toBe(1);
  });

  it("an event is let go once every reader has read it", () => {
    const log = new StreamLog();
    const a = log.addReader();
    const b = log.addReader();
    publish(log, 0, 10);
    read(log, a, 10);
    expect(log.retainedEvents).toBe(10);
    read(log, b, 4);
    expect(log.retainedEvents).toBe(6);
  });

  it("a removed reader's unread events are let go unless another reader still needs them", () => {
    const log = new StreamLog();
    const fast = log.addReader();
    const slow = log.addReader();
    const middle = log.addReader();
    publish(log, 0, 10);
    read(log, fast, 10);
    read(log, slow, 2);
    read(log, middle, 5);
    log.removeReader(slow + 2);
    expect(log.retainedEvents).toBe(5);
    expect(read(log, middle + 5, 5).ids).toEqual(["e5", "e6", "e7", "e8", "e9"]);
    expect(log.retainedEvents).toBe(0);
  });

  it("keeps nothing while no reader follows the stream", () => {
    const log = new StreamLog();
    publish(log, 0, 1000);
    expect(log.retainedChunks).toBe(0);
    expect(log.tail).toBe(1000);
  });

  it.each([
    ["at a chunk boundary", 128],
    ["inside a chunk", 100],
  ])("a reader added %s reads from the tail on, in order", (_, before) => {
    const log = new StreamLog();
    const early = log.addReader();
    publish(log, 0, before);
    const late = log.addReader();
    publish(log, before, 200);
    expect(read(log, late, 200).ids).toEqual(
      Array.from({ length: 200 }, (_, i) => `e${before + i}`),
    );
    expect(read(log, early, before + 200).ids[0]).toBe("e0");
  });
});
