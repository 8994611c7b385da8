import { JetStreamFixture } from "../backing/nats/jetstream-fixture.js";
import { serviceUrl } from "../support/services.js";
import { describeBackingConformance } from "./backing-suite.js";

const url = serviceUrl("nats");

// A short ack wait keeps the "handler never finished" case quick; the default is 30 s.
const ACK_WAIT_MS = 3_000;

describeBackingConformance(
  "nats",
  async () => {
    if (!url) return undefined;
    const fixture = new JetStreamFixture(url);
    const backing = await fixture.backing({ ackWaitMs: String(ACK_WAIT_MS) });
    return { backing, cleanup: () => fixture.cleanup() };
  },
  { redeliveryTimeoutMs: ACK_WAIT_MS + 5_000 },
);
