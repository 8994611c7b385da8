import { createBacking } from "../../src/backing/kafka/index.js";
import { silentLogger } from "../../src/observability/logger.js";
import { serviceUrl } from "../support/services.js";
import { describeBackingConformance } from "./backing-suite.js";

const brokers = serviceUrl("kafka");

// Short group timings: the mock cluster makes every join wait one session timeout, and a
// rejected event comes back after the redelivery delay.
describeBackingConformance(
  "kafka",
  async () => {
    if (!brokers) return undefined;
    const backing = await createBacking(
      {
        kind: "kafka",
        settings: {
          "bootstrap.servers": brokers,
          "session.timeout.ms": "3000",
          "rebalance.timeout.ms": "10000",
          "redelivery.delay.ms": "200",
        },
      },
      { logger: silentLogger() },
    );
    return { backing };
  },
  { redeliveryTimeoutMs: 5_000 },
);
