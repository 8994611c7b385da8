import { NATS } from "./backings.js";
import { describeNetworkFaults, LATENCY, LOSS, PARTITION } from "./faults.js";
import { startNatsInNamespace } from "./faulty-engines.js";

describeNetworkFaults(NATS, startNatsInNamespace, [PARTITION, LOSS, LATENCY]);
