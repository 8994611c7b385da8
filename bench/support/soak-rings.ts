/**
 * What the soak (soak.ts) watches besides RSS and p99: a tail client that stays connected, and
 * whether each bounded ring of the process is full — so "memory stays flat with every ring full"
 * is judged over intervals where it is. Each ring is observed through the process's own API, not
 * inferred from rates: the journey ring is full once the journey of a marker event sent before
 * the load is gone (404); the dead-letter ring once the process counted an entry pushed out
 * (eventail_dropped_events_total{reason="dead-letter-store-full"}); the memory broker's archive
 * once a replay filtered to the marker finds it no longer kept.
 */
import http from "node:http";

const TIMEOUT_MS = 10_000;

function call(
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      url,
      {
        method,
        timeout: TIMEOUT_MS,
        headers: {
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`${method} ${url} timed out`)));
    request.on("error", reject);
    request.end(payload);
  });
}

/** A `GET /api/v1/tail` client kept open for the whole soak; it counts what it is sent. */
export interface TailClient {
  readonly events: number;
  readonly droppedNotices: number;
  readonly dropped: number;
  readonly connected: boolean;
  close(): void;
}

export function connectTail(baseUrl: string, namespace: string): Promise<TailClient> {
  let events = 0;
  let droppedNotices = 0;
  let dropped = 0;
  let connected = false;
  let pending = "";
  return new Promise((resolve, reject) => {
    const request = http.get(`${baseUrl}/api/v1/tail?namespace=${namespace}`, (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        reject(new Error(`the tail answered ${response.statusCode}`));
        return;
      }
      connected = true;
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        pending += chunk;
        let end = pending.indexOf("\n\n");
        while (end >= 0) {
          const message = pending.slice(0, end);
          pending = pending.slice(end + 2);
          if (message.startsWith("event: cloudevent")) events++;
          else if (message.startsWith("event: dropped")) {
            droppedNotices++;
            const count = /"count":\s*(\d+)/.exec(message);
            dropped += count ? Number(count[1]) : 0;
          }
          end = pending.indexOf("\n\n");
        }
      });
      response.on("close", () => {
        connected = false;
      });
      resolve({
        get events() {
          return events;
        },
        get droppedNotices() {
          return droppedNotices;
        },
        get dropped() {
          return dropped;
        },
        get connected() {
          return connected;
        },
        close: () => request.destroy(),
      });
    });
    request.on("error", (error) => {
      connected = false;
      reject(error);
    });
  });
}

export interface Marker {
  readonly id: string;
  readonly source: string;
}

/** One event, by id, sent before the load: the oldest in every ring of its broker. */
export async function sendMarker(ingressUrl: string, marker: Marker): Promise<void> {
  const response = await call(
    "POST",
    ingressUrl,
    { marker: true },
    {
      "ce-specversion": "1.0",
      "ce-id": marker.id,
      "ce-source": marker.source,
      "ce-type": "dev.eventail.soak.marker",
    },
  );
  if (response.status !== 202) throw new Error(`the marker event was answered ${response.status}`);
}

/** Is the marker's journey gone from the ring (pushed out by later events)? */
export async function journeyGone(
  baseUrl: string,
  namespace: string,
  marker: Marker,
): Promise<boolean> {
  const response = await call(
    "GET",
    `${baseUrl}/api/v1/events/${namespace}/${encodeURIComponent(marker.id)}?source=${encodeURIComponent(marker.source)}`,
  );
  if (response.status === 404) return true;
  if (response.status === 200) return false;
  throw new Error(`the journey lookup answered ${response.status}: ${response.text.slice(0, 200)}`);
}

/** Entries the dead-letter stores of `namespace` pushed out so far (0 while none is full). */
export async function deadLettersPushedOut(baseUrl: string, namespace: string): Promise<number> {
  const response = await call("GET", `${baseUrl}/metrics`);
  let total = 0;
  for (const line of response.text.split("\n")) {
    if (!line.startsWith("eventail_dropped_events_total{")) continue;
    if (!line.includes('reason="dead-letter-store-full"')) continue;
    if (!line.includes(`namespace="${namespace}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1)) || 0;
  }
  return total;
}

/**
 * Is the marker gone from the broker's archive? A replay of [from, now) filtered to its id, to
 * one trigger: it re-delivers the marker at most once, so the check adds no load.
 */
export async function archiveGone(
  baseUrl: string,
  namespace: string,
  broker: string,
  trigger: string,
  fromMs: number,
  marker: Marker,
): Promise<boolean> {
  const started = await call("POST", `${baseUrl}/api/v1/replay`, {
    namespace,
    broker,
    trigger,
    from: new Date(fromMs).toISOString(),
    filter: `id = '${marker.id}'`,
  });
  if (started.status !== 202) {
    throw new Error(`the replay answered ${started.status}: ${started.text.slice(0, 200)}`);
  }
  const { id } = JSON.parse(started.text) as { id: string };
  const deadline = Date.now() + TIMEOUT_MS;
  while (Date.now() < deadline) {
    const state = await call("GET", `${baseUrl}/api/v1/replay/${id}`);
    const replay = JSON.parse(state.text) as { state: string; total: number };
    if (replay.state === "completed") return replay.total === 0;
    if (replay.state === "failed") throw new Error("the marker replay failed");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the marker replay did not complete");
}
