import type { Backing } from "../../src/backing/backing.js";
import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import { describeOrphans } from "./orphans-suite.js";

function memory(backings: Backing[]): MemoryBacking[] {
  return backings.filter((b): b is MemoryBacking => b instanceof MemoryBacking);
}

describeOrphans({
  kind: "memory",
  connection: () => ({}),
  // A consumer without subscription keeps its position (and what it has yet to read) for
  // retainIdleConsumerMs unless removed: what these read is what the process still holds.
  consumers: async (stream, backings) => memory(backings).flatMap((b) => b.consumers(stream)),
  retained: async (stream, backings) =>
    memory(backings)
      .flatMap((b) => b.consumers(stream).map((name) => b.depth(stream, name)))
      .reduce((a, b) => a + b, 0),
  retainedWhenDone: 0,
  streamExists: async () => undefined,
  forget: async () => undefined,
});
