import { createBacking } from "../../src/backing/redis/index.js";
import { silentLogger } from "../../src/observability/logger.js";
import { serviceUrl } from "../support/services.js";
import { describeBackingConformance } from "./backing-suite.js";

const url = serviceUrl("redis");

// backing.redis.test.ts with no dedicated readers: every subscription polls on the command
// connection and sleeps on the shared stream notifier, the path all triggers past the first few
// of a process take.
describeBackingConformance(
  "redis (shared notifier)",
  async () => {
    if (!url) return undefined;
    const backing = await createBacking(
      {
        kind: "redis",
        settings: {
          url,
          reclaimIdleMs: "1500",
          reclaimIntervalMs: "250",
          retryDelayMs: "200",
          dedicatedReaders: "0",
        },
      },
      { logger: silentLogger() },
    );
    return { backing };
  },
  { redeliveryTimeoutMs: 5_000 },
);
