/**
 * Every call the console makes goes through here: the token (when authentication is on) rides in
 * the Authorization header, never in a URL (CONTRACT §10), and lives in sessionStorage, so it
 * leaves with the tab. A 401 asks for a token once and tries again.
 */
const TOKEN_KEY = "eventail.console.token";

type TokenAsker = (reason: string) => Promise<string | undefined>;
let asker: TokenAsker | undefined;
let asking: Promise<string | undefined> | undefined;
const tokenListeners = new Set<() => void>();

export function setTokenAsker(ask: TokenAsker): void {
  asker = ask;
}

export function currentToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function onTokenChange(listener: () => void): () => void {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

export function forgetToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  for (const listener of tokenListeners) listener();
}

/** Once the question is cancelled, later 401s do not ask again until the person asks to. */
let declined = false;

/** Concurrent 401s share one question. */
async function askForToken(reason: string): Promise<string | undefined> {
  if (!asker || declined) return undefined;
  asking ??= asker(reason).finally(() => {
    asking = undefined;
  });
  const token = await asking;
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    for (const listener of tokenListeners) listener();
  } else {
    declined = true;
    for (const listener of tokenListeners) listener();
  }
  return token;
}

export function tokenDeclined(): boolean {
  return declined;
}

/** The header's "Give a token" button: asks now, whatever was answered before. */
export async function giveToken(): Promise<boolean> {
  declined = false;
  return (await askForToken("Give a token for the operations API.")) !== undefined;
}

export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const headers = new Headers(init.headers);
    const token = currentToken();
    if (token) headers.set("authorization", `Bearer ${token}`);
    const response = await fetch(path, { ...init, headers });
    if (response.status !== 401 || attempt > 0) return response;
    // A clone: the caller still reads the answer when no token is given.
    const message = await errorMessage(response.clone());
    const given = await askForToken(token ? `The token was refused: ${message}` : message);
    if (!given) return response;
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: string };
    if (body.error) return body.error;
  } catch {
    // Not the API's JSON error shape: show the status line.
  }
  return text || `${response.status} ${response.statusText}`;
}

/** A JSON answer, or an ApiError carrying the server's own sentence. */
export async function callJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await call(path, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (!response.ok) {
    const error = (body as { error?: string } | undefined)?.error;
    throw new ApiError(response.status, error ?? `${response.status} ${response.statusText}`, body);
  }
  return body as T;
}

export interface SseMessage {
  event: string;
  data: string;
}

/**
 * Reads a Server-Sent Events stream with fetch (EventSource cannot send headers). Resolves when
 * the stream ends or `signal` aborts; a refused request (a bad filter) throws an ApiError.
 */
export async function readSse(
  path: string,
  signal: AbortSignal,
  onMessage: (message: SseMessage) => void,
  onOpen?: () => void,
): Promise<void> {
  const response = await call(path, { signal, headers: { accept: "text/event-stream" } });
  if (!response.ok || !response.body) {
    throw new ApiError(response.status, await errorMessage(response));
  }
  onOpen?.();
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event = value;
          else if (field === "data") data.push(value);
        }
        if (data.length > 0) onMessage({ event, data: data.join("\n") });
      }
    }
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  } finally {
    reader.releaseLock();
  }
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
}

export interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    address?: { url?: string; audience?: string };
    subscriberUri?: string;
    deadLetterSinkUri?: string;
  };
}

export async function listResources(): Promise<Resource[]> {
  return (await callJson<{ items: Resource[] }>("/api/v1/resources")).items;
}

export function readiness(resource: Resource | undefined): Condition | undefined {
  return resource?.status?.conditions?.find((c) => c.type === "Ready");
}

/** A random event id; crypto.randomUUID needs a secure context, which plain http is not. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
