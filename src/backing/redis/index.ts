import type { Logger } from "../../observability/logger.js";
import type { Backing, BackingConfig } from "../backing.js";
import { RedisBacking } from "./redis-backing.js";
import { parseRedisSettings } from "./settings.js";

export { RedisBacking } from "./redis-backing.js";
export { parseRedisSettings, type RedisSettings } from "./settings.js";

/**
 * The Redis Streams backing for `data.backing: redis`. Connects to `settings.url`, else
 * REDIS_URL, else redis://127.0.0.1:6379. Resolves even when Redis is down: publish then fails
 * with BackingUnavailableError and ready() answers false until Redis returns.
 */
export async function createBacking(
  config: BackingConfig,
  deps: { logger: Logger },
): Promise<Backing> {
  const backing = new RedisBacking(parseRedisSettings(config), deps.logger);
  await backing.connect();
  return backing;
}
