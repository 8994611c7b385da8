import { RABBITMQ } from "./backings.js";
import { describeNetworkFaults, LATENCY, LOSS, PARTITION } from "./faults.js";
import { startRabbitmqInNamespace } from "./faulty-engines.js";

describeNetworkFaults(RABBITMQ, startRabbitmqInNamespace, [PARTITION, LOSS, LATENCY]);
