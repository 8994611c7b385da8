import { createBacking } from "../../src/backing/redis/index.js";
import { silentLogger } from "../../src/observability/logger.js";
import { serviceUrl } from "../support/services.js";
import { describeBackingConformance } from "./backing-suite.js";

const url = serviceUrl("redis");

// Short reclaim timings so abandoned events come back within the suite's redelivery window.
describeBackingConformance(
  "redis",
  async () => {
    if (!url) return undefined;
    const backing = await createBacking(
      {
        kind: "redis",
        settings: { url, reclaimIdleMs: "1500", reclaimIntervalMs: "250", retryDelayMs: "200" },
      },
      { logger: silentLogger() },
    );
    return { backing };
  },
  { redeliveryTimeoutMs: 5_000 },
);
