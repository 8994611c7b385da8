import type { Logger } from "../../observability/logger.js";
import type { Backing, BackingConfig } from "../backing.js";
import { NatsBacking } from "./nats-backing.js";
import { parseNatsSettings } from "./settings.js";

export {
  consumerFilter,
  durableName,
  eventSubject,
  jetStreamName,
  jetStreamSubjects,
} from "./naming.js";
export { NatsBacking } from "./nats-backing.js";
export { dedupeId, PayloadTooLargeError } from "./publisher.js";
export { type NatsSettings, parseNatsSettings } from "./settings.js";

/**
 * The NATS JetStream backing for a Broker ConfigMap (`backing: nats`) or a NatsJetStreamChannel.
 * Resolves at once, even while NATS is down: it connects in the background, publish() answers
 * BackingUnavailableError and ready() false until NATS answers.
 */
export async function createBacking(
  config: BackingConfig,
  deps: { logger: Logger },
): Promise<Backing> {
  return new NatsBacking(parseNatsSettings(config), deps.logger.child({ backing: "nats" }));
}
