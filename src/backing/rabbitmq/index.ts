import type { Logger } from "../../observability/logger.js";
import type { Backing, BackingConfig } from "../backing.js";
import { RabbitBacking } from "./rabbitmq-backing.js";
import { parseRabbitSettings } from "./settings.js";

export { bindingPattern, exchangeName, queueName, routingKey } from "./naming.js";
export { RabbitBacking } from "./rabbitmq-backing.js";
export { parseRabbitSettings, type RabbitSettings } from "./settings.js";

/**
 * The RabbitMQ backing for `data.backing: rabbitmq` (or a RabbitMQBroker). Resolves at once, even
 * while RabbitMQ is down: it connects in the background; publish() answers
 * BackingUnavailableError and ready() false until RabbitMQ answers.
 */
export async function createBacking(
  config: BackingConfig,
  deps: { logger: Logger },
): Promise<Backing> {
  return new RabbitBacking(parseRabbitSettings(config), deps.logger.child({ backing: "rabbitmq" }));
}
