/**
 * The operations API (CONTRACT §11) as the CLI verbs see it: `--server` (else $EVENTAIL_SERVER,
 * else http://127.0.0.1:$PORT, else port 8080, the defaults of `eventail run`), `--token` (else $EVENTAIL_TOKEN), and errors as one line a person
 * can act on.
 */
import { request } from "undici";

/** Where `eventail run` listens when given no flags: $EVENTAIL_SERVER names it otherwise. */
export function defaultServer(env: NodeJS.ProcessEnv = process.env): string {
  return env["EVENTAIL_SERVER"] || `http://127.0.0.1:${env["PORT"] || 8080}`;
}

export interface ApiClientOptions {
  server?: string;
  token?: string;
}

/** A failure the verb prints as one line and exits 1 with. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** The parsed error body, for verbs that show more than its `error` line. */
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class ApiClient {
  readonly server: string;
  private readonly token: string | undefined;

  constructor(options: ApiClientOptions = {}, env: NodeJS.ProcessEnv = process.env) {
    this.server = (options.server || defaultServer(env)).replace(/\/+$/, "");
    this.token = options.token || env["EVENTAIL_TOKEN"] || undefined;
  }

  /** GET `path` under /api/v1, parsed as JSON; rejects with ApiError. */
  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path, undefined, 15_000);
  }

  /**
   * POST `body` as JSON to `path` under /api/v1; rejects with ApiError. `waitMs` bounds the wait
   * for the answer: a redrive answers only once every entry was tried.
   */
  post<T>(path: string, body: unknown, waitMs = 15_000): Promise<T> {
    return this.call<T>("POST", path, JSON.stringify(body), waitMs);
  }

  private async call<T>(
    method: "GET" | "POST",
    path: string,
    payload: string | undefined,
    waitMs: number,
  ): Promise<T> {
    const url = `${this.server}/api/v1${path}`;
    let response: Awaited<ReturnType<typeof request>>;
    try {
      response = await request(url, {
        method,
        headers: {
          accept: "application/json",
          ...(payload === undefined ? {} : { "content-type": "application/json" }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(payload === undefined ? {} : { body: payload }),
        headersTimeout: waitMs,
        bodyTimeout: 30_000,
      });
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new ApiError(
        `cannot reach the server at ${this.server} (${code ?? (error as Error).message}); ` +
          "is `eventail run` serving there? Use --server or $EVENTAIL_SERVER",
      );
    }
    const text = await response.body.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError(`${url} answered ${response.statusCode} with something other than JSON`);
    }
    if (response.statusCode >= 400) {
      const said = (body as { error?: unknown }).error;
      const message = typeof said === "string" ? said : `HTTP ${response.statusCode}`;
      const hint =
        response.statusCode === 401
          ? " (authentication is on: pass --token or set $EVENTAIL_TOKEN to a token for eventail:api)"
          : "";
      throw new ApiError(`${message}${hint}`, response.statusCode, body);
    }
    return body as T;
  }
}

/** Runs a verb: an ApiError prints as `eventail VERB: message` and exits 1. */
export async function runVerb(verb: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    process.stderr.write(`eventail ${verb}: ${error.message}\n`);
    return 1;
  }
}
