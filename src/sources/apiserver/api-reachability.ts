/**
 * Whether an ApiServerSource can talk to its Kubernetes API right now. Discovery and every
 * list/watch report here; the log gets one line per change of state (not one stack trace per
 * retry, which for an absent cluster would be one every 30 s forever), and readiness reads it.
 */
import type { Logger } from "../../observability/logger.js";
import { KubeApiError } from "./kube-client.js";

export class ApiReachability {
  /** Who is failing (discovery, each collection's list/watch) and why, in one line each. */
  private readonly failures = new Map<string, string>();
  private reached = false;

  constructor(
    private readonly server: string,
    private readonly logger: Logger,
  ) {}

  /** Discovery answered and no list/watch is failing. */
  get ready(): boolean {
    return this.reached && this.failures.size === 0;
  }

  succeeded(party: string): void {
    this.reached = true;
    if (!this.failures.delete(party) || this.failures.size > 0) return;
    this.logger.info({ server: this.server }, `reached the Kubernetes API at ${this.server}`);
  }

  /** Logs a reason the first time it appears, so N watches failing alike make one line. */
  failed(party: string, error: unknown): void {
    const reason = describeFailure(error, this.server);
    const known = [...this.failures.values()].includes(reason);
    this.failures.set(party, reason);
    if (!known) this.logger.warn({ server: this.server }, `${reason}; retrying`);
  }
}

/** One line, no stack: the network error code, or what the API answered. */
function describeFailure(error: unknown, server: string): string {
  const code = networkCode(error);
  if (code !== undefined) return `cannot reach the Kubernetes API at ${server}: ${code}`;
  const message = error instanceof Error ? error.message : String(error);
  const status = error instanceof KubeApiError ? error.status : undefined;
  if (status === undefined) return `the Kubernetes API at ${server} failed: ${message}`;
  return `the Kubernetes API at ${server} answered ${status}: ${message}`;
}

function networkCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
    const match = /\b(ECONNREFUSED|ECONNRESET|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN)\b/.exec(
      current.message,
    );
    if (match) return match[1];
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
