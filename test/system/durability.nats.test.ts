import { NATS } from "./backings.js";
import { describeDurability } from "./durability-suite.js";

describeDurability(NATS);
