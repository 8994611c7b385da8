import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../observability/logger.js";
import { BackingUnavailableError } from "../backing.js";
import type { RedisSettings } from "./settings.js";

/** commands: everything but blocking reads; fetch: a dedicated reader; notify: the notifier; lease: the leader lease. */
export type RedisConnectionRole = "commands" | "fetch" | "notify" | "lease";

/**
 * Connections that fail fast: while Redis is unreachable, commands reject at once instead of
 * queueing (no offline queue, nothing resent after a reconnect, in-flight commands failed when
 * the socket drops), and a server that stops answering is cut off by commandTimeout. Reconnects
 * go on forever in the background, so everything recovers by itself.
 */
export function createRedisConnection(
  settings: RedisSettings,
  logger: Logger,
  role: RedisConnectionRole,
): Redis {
  const options: RedisOptions = {
    // Host and pid make CLIENT LIST show which process holds which connections.
    connectionName: redisConnectionName(role),
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    connectTimeout: settings.commandTimeoutMs,
    // Fetch and notify connections block in XREADGROUP / XREAD for blockMs before Redis answers.
    // The lease's commands answer at once: its renewals must fail within a command timeout.
    commandTimeout:
      role === "fetch" || role === "notify"
        ? settings.blockMs + settings.commandTimeoutMs
        : settings.commandTimeoutMs,
    // Off: it kept ~4 KB per command alive into the old heap (long scavenges); the per-event
    // commands batch themselves per tick instead (APPEND, XACK, journey writes).
    enableAutoPipelining: false,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  };
  const redis = new Redis(settings.url, options);
  // commandTimeout fails the command but keeps the socket. After a network partition that socket
  // only resumes at TCP's next retransmission, which backs off towards two minutes (a 30 s
  // partition measured 24 s of extra unavailability after the heal); a fresh connection answers
  // at once, so a timeout on a connection that claims to be ready replaces it.
  const sendCommand = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    const sent = sendCommand(command, stream);
    command.promise.catch((error: unknown) => {
      if (!(error instanceof Error) || error.message !== "Command timed out") return;
      if (redis.status !== "ready") return;
      logger.warn({ role }, "redis backing: a command timed out; reconnecting");
      redis.disconnect(true);
    });
    return sent;
  };
  let reported = false;
  redis.on("error", (error: Error) => {
    if (reported) return;
    reported = true;
    logger.warn({ err: error, role }, "redis backing: connection lost; reconnecting");
  });
  redis.on("ready", () => {
    if (!reported) return;
    reported = false;
    logger.info({ role }, "redis backing: connection restored");
  });
  return redis;
}

/** CLIENT SETNAME of this process's connections in `role`: `eventail-<role>:<host>:<pid>`. */
export function redisConnectionName(role: RedisConnectionRole): string {
  return `eventail-${role}:${hostname()}:${process.pid}`;
}

/**
 * Resolves true once the connection is ready, false when it is not within `timeoutMs` (or, with
 * `untilError`, as soon as a connection attempt fails).
 */
export function waitUntilReady(
  redis: Redis,
  timeoutMs: number,
  options: { untilError?: boolean } = {},
): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  if (redis.status === "end") return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("end", onFailure);
      redis.off("error", onFailure);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onFailure = () => done(false);
    const timer = setTimeout(onFailure, timeoutMs);
    redis.once("ready", onReady);
    redis.once("end", onFailure);
    if (options.untilError) redis.once("error", onFailure);
  });
}

/** Rejects with BackingUnavailableError when `work` has not settled within `timeoutMs`. */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BackingUnavailableError(`redis: ${what} timed out after ${timeoutMs} ms`, "redis"),
        ),
      timeoutMs,
    );
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export function unavailable(what: string, error: unknown): BackingUnavailableError {
  if (error instanceof BackingUnavailableError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new BackingUnavailableError(`redis: ${what}: ${reason}`, "redis", { cause: error });
}

/** Closes a connection politely when Redis answers, and at once when it does not. */
export async function closeConnection(redis: Redis, timeoutMs: number): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status !== "ready") {
    redis.disconnect();
    return;
  }
  try {
    await withDeadline(redis.quit(), timeoutMs, "quit");
  } catch {
    redis.disconnect();
  }
}
