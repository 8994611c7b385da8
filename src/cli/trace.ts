/**
 * `eventail trace EVENT_ID [--source S] [-n NS]`: an event's journey (CONTRACT §11) as a timeline,
 * times as offsets from its acceptance.
 */

import type { JourneyJson, RouteJson } from "../operations/journey-json.js";
import { ApiClient, ApiError } from "./api-client.js";

export interface TraceOptions {
  source?: string;
  namespace: string;
  server?: string;
  token?: string;
}

interface Output {
  write(text: string): unknown;
}

export async function traceCommand(
  id: string,
  options: TraceOptions,
  out: Output = process.stdout,
  err: Output = process.stderr,
): Promise<number> {
  const client = new ApiClient({
    ...(options.server === undefined ? {} : { server: options.server.trim() }),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  const query = options.source === undefined ? "" : `?source=${encodeURIComponent(options.source)}`;
  try {
    const journey = await client.get<JourneyJson>(
      `/events/${encodeURIComponent(options.namespace)}/${encodeURIComponent(id)}${query}`,
    );
    out.write(formatJourney(journey));
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    err.write(`eventail trace: ${error.message}\n`);
    // 409: several events share the id; each source is a way to ask again.
    const sources = (error.body as { sources?: unknown } | undefined)?.sources;
    if (Array.isArray(sources)) for (const source of sources) err.write(`  --source ${source}\n`);
    return 1;
  }
}

/** `+1.234s` or `+12ms` after `start`. */
function offset(at: string, start: number): string {
  const ms = Date.parse(at) - start;
  if (!Number.isFinite(ms)) return "";
  return Math.abs(ms) < 1000 ? `+${ms}ms` : `+${(ms / 1000).toFixed(3)}s`;
}

function routeLine(route: RouteJson): string {
  const details = [
    route.replyId === undefined ? undefined : `reply ${route.replyId}`,
    route.sink === undefined ? undefined : `to ${route.sink}`,
    route.reason === undefined ? undefined : route.reason,
  ].filter((d) => d !== undefined);
  const tail = details.length > 0 ? ` (${details.join(", ")})` : "";
  return `${route.kind} ${route.name}: ${route.outcome}${tail}\n`;
}

export function formatJourney(journey: JourneyJson): string {
  const { accepted } = journey;
  const start = accepted.at === null ? Number.NaN : Date.parse(accepted.at);
  const lines: string[] = [];
  lines.push(`event ${journey.id} from ${journey.source} (namespace ${journey.namespace})\n`);
  const where = accepted.address ?? "an unknown address";
  const facts = [
    accepted.size === null ? undefined : `${accepted.size} bytes`,
    accepted.traceId === null ? undefined : `trace ${accepted.traceId}`,
  ].filter((f) => f !== undefined);
  lines.push(
    `  ${accepted.at ?? "(time unknown)"}  accepted at ${where}${facts.length ? ` (${facts.join(", ")})` : ""}\n`,
  );
  if (journey.routes.length === 0) lines.push("  no trigger or subscription has reported yet\n");
  for (const route of journey.routes) {
    lines.push(`  ${routeLine(route)}`);
    route.attempts.forEach((attempt, i) => {
      const answer =
        attempt.status !== undefined ? `HTTP ${attempt.status}` : `error: ${attempt.error}`;
      const when = Number.isNaN(start) ? attempt.at : offset(attempt.at, start);
      lines.push(`    ${when.padEnd(9)} attempt ${i + 1}: ${answer} in ${attempt.durationMs}ms\n`);
    });
  }
  return lines.join("");
}
