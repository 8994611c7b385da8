/**
 * `eventail replay --broker NS/NAME --from TIME [--to TIME] [--trigger T] [--filter CESQL]`
 * (CONTRACT §11): starts a replay and follows it to the end, with a progress bar on a terminal
 * and one line per state change elsewhere (logs and CI get no carriage returns).
 */
import { parseIsoDuration } from "../resources/duration.js";
import { ApiClient } from "./api-client.js";

export interface ReplayOptions {
  broker: string;
  from: string;
  to?: string;
  trigger?: string;
  filter?: string;
  server?: string;
  token?: string;
}

interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

interface ReplayStatus {
  id: string;
  state: "running" | "completed" | "failed";
  sent: number;
  total: number;
  error?: string;
}

const POLL_MS = 250;
const BAR_WIDTH = 30;

/**
 * A time as the API takes it: RFC 3339 as given, or an ISO-8601 duration meaning that long ago
 * (`PT1H`), which is what one usually means by "replay the last hour".
 */
export function replayTime(text: string, now = Date.now()): string {
  if (text.startsWith("P")) {
    const ms = parseIsoDuration(text);
    if (ms !== undefined) return new Date(now - ms).toISOString();
  }
  return text;
}

export function progressBar(status: Pick<ReplayStatus, "sent" | "total">): string {
  const share = status.total === 0 ? 1 : Math.min(status.sent / status.total, 1);
  const filled = Math.round(share * BAR_WIDTH);
  const percent = String(Math.floor(share * 100)).padStart(3);
  return `[${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${percent}% ${status.sent}/${status.total}`;
}

export async function replayCommand(
  options: ReplayOptions,
  out: Output = process.stdout,
  err: Output = process.stderr,
): Promise<number> {
  const fail = (message: string) => {
    err.write(`eventail replay: ${message}\n`);
    return 1;
  };
  const slash = options.broker.indexOf("/");
  if (slash <= 0 || slash === options.broker.length - 1) {
    return fail(`--broker must be NAMESPACE/NAME, not ${JSON.stringify(options.broker)}`);
  }
  const client = new ApiClient({
    ...(options.server === undefined ? {} : { server: options.server }),
    ...(options.token === undefined ? {} : { token: options.token }),
  });
  const call = (method: "GET" | "POST", path: string, body?: unknown) =>
    method === "GET"
      ? client.get<Record<string, unknown>>(path)
      : client.post<Record<string, unknown>>(path, body);
  const now = Date.now();
  const request = {
    namespace: options.broker.slice(0, slash),
    broker: options.broker.slice(slash + 1),
    from: replayTime(options.from, now),
    ...(options.to === undefined ? {} : { to: replayTime(options.to, now) }),
    ...(options.trigger === undefined ? {} : { trigger: options.trigger }),
    ...(options.filter === undefined ? {} : { filter: options.filter }),
  };
  let id: string;
  try {
    id = String((await call("POST", "/replay", request))["id"]);
  } catch (error) {
    return fail((error as Error).message);
  }
  const tty = out.isTTY === true;
  out.write(`replay ${id} started\n`);
  let status: ReplayStatus;
  for (;;) {
    try {
      status = (await call("GET", `/replay/${encodeURIComponent(id)}`)) as unknown as ReplayStatus;
    } catch (error) {
      if (tty) out.write("\n");
      return fail((error as Error).message);
    }
    if (tty) out.write(`\r${progressBar(status)}`);
    if (status.state !== "running") break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (tty) out.write("\n");
  if (status.state === "failed")
    return fail(`replay ${id} failed: ${status.error ?? "no reason given"}`);
  out.write(`replay ${id} completed: ${status.sent} of ${status.total} event(s) sent\n`);
  return 0;
}
