import { RABBITMQ } from "./backings.js";
import { describeDurability } from "./durability-suite.js";

describeDurability(RABBITMQ);
