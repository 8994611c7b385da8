import { describe, expect, it } from "vitest";
import { CancelGroups } from "../../src/delivery/cancel-group.js";

describe("cancel groups (the dispatcher's shutdown and per-trigger signals)", () => {
  it("runs what is still registered when the signal aborts, once, and nothing that left", () => {
    const groups = new CancelGroups();
    const signal = new AbortController();
    const calls: string[] = [];
    const group = groups.of(signal.signal);
    expect(groups.of(signal.signal)).toBe(group);
    group.watch(() => calls.push("a"));
    const offB = group.watch(() => calls.push("b"));
    group.watch(() => calls.push("c"));
    offB();
    offB(); // twice is harmless
    signal.abort();
    signal.abort();
    expect(calls.sort()).toEqual(["a", "c"]);
    group.watch(() => calls.push("late"));
    expect(calls).toContain("late");
  });

  it("the root cancels every signal's members, and everything registered after", () => {
    const groups = new CancelGroups();
    const one = groups.of(new AbortController().signal);
    const two = groups.of(new AbortController().signal);
    const calls: string[] = [];
    one.watch(() => calls.push("one"));
    two.watch(() => calls.push("two"));
    groups.root.watch(() => calls.push("root"));
    const offGone = two.watch(() => calls.push("gone"));
    offGone();
    groups.root.fire();
    expect(calls.sort()).toEqual(["one", "root", "two"]);
    one.watch(() => calls.push("after"));
    groups.of(new AbortController().signal).watch(() => calls.push("new signal"));
    expect(calls).toEqual(expect.arrayContaining(["after", "new signal"]));
  });

  it("a group emptied and filled again many times still hears the root and its signal", () => {
    const groups = new CancelGroups();
    const signal = new AbortController();
    const group = groups.of(signal.signal);
    for (let i = 0; i < 1_000; i++) group.watch(() => {})();
    let cancelled = 0;
    group.watch(() => cancelled++);
    groups.root.fire();
    expect(cancelled).toBe(1);
    const other = new AbortController();
    const fresh = new CancelGroups();
    const g = fresh.of(other.signal);
    for (let i = 0; i < 1_000; i++) g.watch(() => {})();
    g.watch(() => cancelled++);
    other.abort();
    expect(cancelled).toBe(2);
  });

  it("a signal aborted before its group existed cancels at once", () => {
    const groups = new CancelGroups();
    const signal = AbortSignal.abort();
    let cancelled = false;
    groups.of(signal).watch(() => {
      cancelled = true;
    });
    expect(cancelled).toBe(true);
  });

  it("each CancelGroups keeps its own group on a shared signal", () => {
    const a = new CancelGroups();
    const b = new CancelGroups();
    const signal = new AbortController().signal;
    const calls: string[] = [];
    a.of(signal).watch(() => calls.push("a"));
    b.of(signal).watch(() => calls.push("b"));
    a.root.fire();
    expect(calls).toEqual(["a"]);
  });
});
