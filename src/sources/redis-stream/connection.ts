import type { RedisOptions } from "ioredis";

/** eventing-redis's RedisConnection: `address` and `dialOptions` (RedisStreamSource and Sink). */
export interface RedisConnectionSpec {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. */
  readonly address: string;
  readonly dialOptions?: {
    readonly useTLS?: boolean;
    readonly skipVerify?: boolean;
    readonly cert?: SecretValueFrom;
    readonly key?: SecretValueFrom;
    readonly caCert?: SecretValueFrom;
    readonly password?: Readonly<Record<string, unknown>>;
  };
}

interface SecretValueFrom {
  readonly secretKeyRef?: { readonly name: string; readonly key: string };
}

/** A command that waits this long for Redis fails: the sink answers 503, the source retries. */
export const COMMAND_TIMEOUT_MS = 5_000;

/**
 * ioredis options for a connection: TLS when the address is `rediss://` or `useTLS` is set, with
 * the CA and client certificate from Secrets (`secretValue` reads a key of a Secret of the
 * resource's namespace). Commands wait for a connection being made, but give up after one
 * reconnect attempt or COMMAND_TIMEOUT_MS. Throws an Error naming the field when a Secret key is
 * missing.
 */
export function redisOptions(
  spec: RedisConnectionSpec,
  secretValue: (name: string, key: string) => string | undefined,
  blockMs = 0,
): RedisOptions {
  const dial = spec.dialOptions ?? {};
  const read = (field: "cert" | "key" | "caCert"): string | undefined => {
    const ref = dial[field]?.secretKeyRef;
    if (!ref) return undefined;
    const value = secretValue(ref.name, ref.key);
    if (value === undefined) {
      throw new Error(
        `spec.dialOptions.${field}.secretKeyRef: key ${ref.key} of Secret ${ref.name} not found`,
      );
    }
    return value;
  };
  const ca = read("caCert");
  const cert = read("cert");
  const key = read("key");
  const tls = dial.useTLS === true || spec.address.startsWith("rediss:");
  return {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 3_000,
    // A blocking read waits blockMs before Redis answers at all.
    commandTimeout: blockMs + COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    ...(tls
      ? {
          tls: {
            ...(ca === undefined ? {} : { ca }),
            ...(cert === undefined ? {} : { cert }),
            ...(key === undefined ? {} : { key }),
          },
        }
      : {}),
  };
}
