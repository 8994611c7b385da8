import { MemoryBacking } from "../../src/backing/memory/memory-backing.js";
import { describeBackingConformance } from "./backing-suite.js";

describeBackingConformance("memory", async () => ({ backing: new MemoryBacking() }), {
  redeliveryTimeoutMs: 2_000,
});
