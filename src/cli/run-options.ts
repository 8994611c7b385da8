/** Parsers of `eventail run`'s flags for TLS and slow clients (CONTRACT §1, §10). */
import { InvalidArgumentError } from "commander";
import { parseIsoDuration } from "../resources/duration.js";

/**
 * A duration flag: ISO-8601 (`PT10S`, as Knative's delivery fields) or plain seconds (`10`,
 * `0.5`). Zero is refused: these limits exist to cut slow clients, and 0 means "never" to Node.
 */
export function durationFlag(value: string): number {
  const text = value.trim();
  const ms = /^\d+(?:\.\d+)?$/.test(text) ? Number(text) * 1000 : parseIsoDuration(text);
  if (ms === undefined || !Number.isFinite(ms)) {
    throw new InvalidArgumentError("must be an ISO-8601 duration (PT10S) or seconds (10)");
  }
  if (ms < 1) throw new InvalidArgumentError("must be longer than 0");
  return Math.round(ms);
}

export function positiveIntegerFlag(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1) {
    throw new InvalidArgumentError("must be a whole number of at least 1");
  }
  return parsed;
}

/** A count where 0 means "off" (`--journey-size 0`). */
export function nonNegativeIntegerFlag(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
    throw new InvalidArgumentError("must be a whole number (0 or more)");
  }
  return parsed;
}

export interface RunTlsAndLimits {
  tlsCert?: string;
  tlsKey?: string;
  headerTimeout?: number;
  bodyTimeout?: number;
  maxConnections?: number;
}

/** What startEventail takes from these flags, or the usage error when only one TLS file is given. */
export function tlsAndLimits(flags: RunTlsAndLimits):
  | {
      tls?: { certFile: string; keyFile: string };
      limits: { headerTimeoutMs?: number; bodyTimeoutMs?: number; maxConnections?: number };
    }
  | { error: string } {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    return { error: "--tls-cert and --tls-key go together: give both or neither" };
  }
  return {
    ...(flags.tlsCert !== undefined && flags.tlsKey !== undefined
      ? { tls: { certFile: flags.tlsCert, keyFile: flags.tlsKey } }
      : {}),
    limits: {
      ...(flags.headerTimeout !== undefined ? { headerTimeoutMs: flags.headerTimeout } : {}),
      ...(flags.bodyTimeout !== undefined ? { bodyTimeoutMs: flags.bodyTimeout } : {}),
      ...(flags.maxConnections !== undefined ? { maxConnections: flags.maxConnections } : {}),
    },
  };
}
