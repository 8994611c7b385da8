import { REDIS } from "./backings.js";
import { describeNetworkFaults, LATENCY, LOSS, PARTITION } from "./faults.js";
import { startRedisInNamespace } from "./faulty-engines.js";

describeNetworkFaults(REDIS, startRedisInNamespace, [PARTITION, LOSS, LATENCY]);
