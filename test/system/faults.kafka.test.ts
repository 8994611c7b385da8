import { KAFKA } from "./backings.js";
import { describeNetworkFaults, LOSS, PARTITION } from "./faults.js";
import { startKafkaOnLoopback } from "./faulty-engines.js";

// No latency case: the mock brokers advertise their own 127.0.0.1 ports, so clients reach them
// directly and a relay in front of the bootstrap address would be bypassed.
describeNetworkFaults(KAFKA, startKafkaOnLoopback, [PARTITION, LOSS], {
  "session.timeout.ms": "3000",
  "heartbeat.interval.ms": "1000",
  "rebalance.timeout.ms": "10000",
});
