/** Live delivery rates per trigger (or subscription), from two reads of /metrics. */
import { call } from "./api.js";

export interface Attempts {
  /** Attempts per HTTP status (or "error"/"timeout") since the process started. */
  byCode: Record<string, number>;
  total: number;
}

/** `eventail_delivery_attempts_total{namespace,trigger,code}`, summed per namespace/trigger. */
export function parseAttempts(text: string): Map<string, Attempts> {
  const out = new Map<string, Attempts>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("eventail_delivery_attempts_total{")) continue;
    const close = line.lastIndexOf("}");
    const labels: Record<string, string> = {};
    for (const match of line
      .slice(line.indexOf("{") + 1, close)
      .matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[match[1]!] = match[2]!.replace(/\\(.)/g, "$1");
    }
    const value = Number(
      line
        .slice(close + 1)
        .trim()
        .split(" ")[0],
    );
    if (!Number.isFinite(value)) continue;
    const key = `${labels["namespace"]}/${labels["trigger"]}`;
    const entry = out.get(key) ?? { byCode: {}, total: 0 };
    const code = labels["code"] ?? "?";
    entry.byCode[code] = (entry.byCode[code] ?? 0) + value;
    entry.total += value;
    out.set(key, entry);
  }
  return out;
}

export interface RateSample {
  attempts: Map<string, Attempts>;
  /** Attempts per second over the last interval, per namespace/trigger. */
  rates: Map<string, number>;
}

/** Polls /metrics every `intervalMs` and reports per-trigger rates; returns a stop function. */
export function watchRates(intervalMs: number, onSample: (sample: RateSample) => void): () => void {
  let previous: { at: number; attempts: Map<string, Attempts> } | undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const tick = async () => {
    try {
      const response = await call("/metrics");
      if (response.ok) {
        const attempts = parseAttempts(await response.text());
        const at = performance.now();
        const rates = new Map<string, number>();
        if (previous) {
          const seconds = (at - previous.at) / 1000;
          for (const [key, value] of attempts) {
            const before = previous.attempts.get(key)?.total ?? 0;
            rates.set(key, Math.max(0, value.total - before) / seconds);
          }
        }
        previous = { at, attempts };
        if (!stopped) onSample({ attempts, rates });
      }
    } catch {
      // The next tick tries again; the graph keeps its last rates.
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
