import { KAFKA } from "./backings.js";
import { describeDurability } from "./durability-suite.js";

describeDurability(KAFKA);
