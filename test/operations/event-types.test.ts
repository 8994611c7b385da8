import { describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import {
  type EventTypeStore,
  EventTypesNotWrittenError,
  type ObservedEventType,
} from "../../src/backing/event-type-store.js";
import { createEvent } from "../../src/events/event.js";
import { silentLogger } from "../../src/observability/logger.js";
import { EventTypeRegistry, MemoryEventTypeStore } from "../../src/operations/event-types.js";
import type { Resource } from "../../src/resources/types.js";

const FEATURES: Resource = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "config-features", namespace: "knative-eventing" },
  data: { "eventtype-auto-create": "enabled" },
} as unknown as Resource;

const event = (type: string, source: string) =>
  createEvent({ specversion: "1.0", id: "1", source, type }, Buffer.from('{"a":1}'));

/** A store that refuses, on its first add, the entries whose type is in `refuse`. */
class FlakyStore implements EventTypeStore {
  readonly inner = new MemoryEventTypeStore();
  calls = 0;
  constructor(private readonly refuse: Set<string>) {}
  async add(o: readonly ObservedEventType[], merge: (a: unknown, b: unknown) => unknown) {
    this.calls++;
    if (this.calls === 1) {
      const refused = o.filter((x) => this.refuse.has(x.type));
      await this.inner.add(
        o.filter((x) => !this.refuse.has(x.type)),
        merge,
      );
      throw new EventTypesNotWrittenError("engine went away", refused);
    }
    await this.inner.add(o, merge);
  }
  list(namespace?: string) {
    return this.inner.list(namespace);
  }
}

describe("EventTypeRegistry", () => {
  it("gives back only what a store did not write, so a retried flush counts nothing twice", async () => {
    const store = new FlakyStore(new Set(["b"]));
    const backing = { kind: "test", eventTypes: store } as unknown as Backing;
    const registry = new EventTypeRegistry({ logger: silentLogger(), flushMs: 60_000 });
    try {
      registry.configure([FEATURES]);
      registry.attach(backing);
      registry.seen(backing, "ns", "br", [event("a", "/s"), event("a", "/s"), event("b", "/s")]);
      await registry.flush();
      registry.seen(backing, "ns", "br", [event("b", "/s")]);
      await registry.flush();
      const counts = Object.fromEntries((await store.list("ns")).map((o) => [o.type, o.count]));
      expect(counts).toEqual({ a: 2, b: 2 });
      expect(store.calls).toBe(2);
    } finally {
      await registry.close();
    }
  });

  it("creates nothing while eventtype-auto-create is off", async () => {
    const registry = new EventTypeRegistry({ logger: silentLogger(), flushMs: 60_000 });
    try {
      registry.configure([]);
      const backing = { kind: "memory" } as Backing;
      registry.seen(backing, "ns", "br", [event("a", "/s")]);
      expect(await registry.list("ns")).toEqual([]);
      registry.configure([FEATURES]);
      registry.seen(backing, "ns", "br", [event("a", "/s")]);
      expect(await registry.list("ns")).toHaveLength(1);
    } finally {
      await registry.close();
    }
  });

  it("the memory store stops creating entries at its bound but keeps counting known ones", async () => {
    const store = new MemoryEventTypeStore(2);
    const entry = (type: string): ObservedEventType => ({
      namespace: "ns",
      broker: "b",
      type,
      source: "/s",
      count: 1,
      firstSeen: 1,
      lastSeen: 1,
    });
    const merge = (a: unknown) => a;
    await store.add([entry("a"), entry("b"), entry("c")], merge);
    await store.add([entry("a"), entry("d")], merge);
    const counts = Object.fromEntries((await store.list()).map((o) => [o.type, o.count]));
    expect(counts).toEqual({ a: 2, b: 1 });
  });
});
