import { createBacking } from "../../src/backing/rabbitmq/index.js";
import { silentLogger } from "../../src/observability/logger.js";
import { serviceUrl } from "../support/services.js";
import { describeBackingConformance } from "./backing-suite.js";

const url = serviceUrl("rabbitmq");

// A channel that closes hands its unacked messages back at once, so redelivery is quick; the
// short delay keeps the handler-rejected case within the suite's window.
describeBackingConformance(
  "rabbitmq",
  async () => {
    if (!url) return undefined;
    const backing = await createBacking(
      { kind: "rabbitmq", settings: { url, redeliveryDelayMs: "200", queueExpiresMs: "60000" } },
      { logger: silentLogger() },
    );
    return { backing };
  },
  { redeliveryTimeoutMs: 5_000 },
);
