import { REDIS } from "./backings.js";
import { describeDurability } from "./durability-suite.js";

describeDurability(REDIS);
