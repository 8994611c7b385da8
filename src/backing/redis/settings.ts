import type { BackingConfig } from "../backing.js";

/**
 * What a Broker ConfigMap (data.backing: redis) may say. Only `url` is part of the contract; the
 * timing keys exist so operators (and tests) can tune reclaim and fail-fast bounds.
 */
export interface RedisSettings {
  readonly url: string;
  /** Bound on each command, so publish fails with 503 instead of hanging (≤ 5 s in total). */
  readonly commandTimeoutMs: number;
  /** Pending entries idle longer than this belong to a dead consumer and are reclaimed. */
  readonly reclaimIdleMs: number;
  /** How often survivors look for such entries. */
  readonly reclaimIntervalMs: number;
  /** XREADGROUP BLOCK time; bounds how long close() waits for the fetch loop to notice. */
  readonly blockMs: number;
  /** XREADGROUP / XAUTOCLAIM COUNT. */
  readonly batchSize: number;
  /** Wait before redelivering an event whose handler rejected. */
  readonly retryDelayMs: number;
  /** How often acknowledged entries are trimmed from streams this process uses. */
  readonly trimIntervalMs: number;
  /**
   * A stream this process appended this many entries to since its last trim is trimmed then,
   * without waiting for trimIntervalMs: XTRIM holds up every client of the server for as long
   * as it frees entries, so many small trims beat one large one.
   */
  readonly trimAfterEntries: number;
  /** Group members with nothing pending and silent this long are removed from their group. */
  readonly consumerExpiryMs: number;
  /**
   * How many subscriptions of a process get a blocking connection of their own (the fewest
   * round trips per event); the rest share one notifier connection. 0: all share it.
   */
  readonly dedicatedReaders: number;
}

export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

const DEFAULTS: Omit<RedisSettings, "url"> = {
  commandTimeoutMs: 4_000,
  reclaimIdleMs: 15_000,
  reclaimIntervalMs: 5_000,
  blockMs: 2_000,
  batchSize: 128,
  retryDelayMs: 1_000,
  trimIntervalMs: 30_000,
  trimAfterEntries: 5_000,
  consumerExpiryMs: 3_600_000,
  dedicatedReaders: 4,
};

/** Keys for which 0 is a meaningful value. */
const ZERO_ALLOWED: ReadonlySet<NumericKey> = new Set(["dedicatedReaders"]);

type NumericKey = keyof typeof DEFAULTS;

const NUMERIC_KEYS = Object.keys(DEFAULTS) as NumericKey[];

/** Reads `config.settings`; throws naming the key when a value is not a positive integer. */
export function parseRedisSettings(
  config: BackingConfig,
  env: NodeJS.ProcessEnv = process.env,
): RedisSettings {
  const settings = config.settings;
  const url = settings["url"] || env["REDIS_URL"] || DEFAULT_REDIS_URL;
  if (!/^rediss?:\/\//.test(url)) {
    throw new Error(`settings.url: ${JSON.stringify(url)} is not a redis:// or rediss:// URL`);
  }
  const numbers = { ...DEFAULTS };
  for (const key of NUMERIC_KEYS) {
    const raw = settings[key];
    if (raw === undefined || raw === "") continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0 || (value === 0 && !ZERO_ALLOWED.has(key))) {
      const what = ZERO_ALLOWED.has(key) ? "a non-negative integer" : "a positive integer";
      throw new Error(`settings.${key}: ${JSON.stringify(raw)} is not ${what}`);
    }
    numbers[key] = value;
  }
  return { url, ...numbers };
}
