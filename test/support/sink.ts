import { mkdtempSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach } from "vitest";
import type { CloudEvent } from "../../src/events/event.js";
import { decodeHttpRequest } from "../../src/events/http-binding.js";
import { silentLogger } from "../../src/observability/logger.js";
import {
  type EventailOptions,
  type RunningEventail,
  startEventail,
} from "../../src/runtime/eventail.js";

export interface ReceivedRequest {
  readonly at: number;
  /** The request's path and query, as sent. */
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  /** The decoded event, when the request carried one. */
  readonly event?: CloudEvent;
}

export interface SinkResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (the request hangs until the client gives up). */
  hang?: boolean;
}

export type Responder = (request: ReceivedRequest, index: number) => SinkResponse | undefined;

/** A real HTTP subscriber on 127.0.0.1 that records every request and answers as told. */
export class RecordingSink {
  readonly requests: ReceivedRequest[] = [];
  private server?: http.Server;
  url = "";

  constructor(private responder: Responder = () => ({ status: 202 })) {}

  respondWith(responder: Responder): void {
    this.responder = responder;
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        const body = Buffer.concat(chunks);
        let event: CloudEvent | undefined;
        try {
          event = decodeHttpRequest(req.headers, body).events[0];
        } catch {
          event = undefined;
        }
        const received: ReceivedRequest = {
          at: Date.now(),
          path: req.url ?? "",
          headers: req.headers,
          body,
          ...(event ? { event } : {}),
        };
        const index = this.requests.push(received) - 1;
        const answer = this.responder(received, index) ?? { status: 202 };
        if (answer.hang) return;
        if (answer.delayMs) await sleep(answer.delayMs);
        res.writeHead(answer.status ?? 202, answer.headers ?? {});
        res.end(answer.body);
      });
    });
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  get events(): CloudEvent[] {
    return this.requests.flatMap((r) => (r.event ? [r.event] : []));
  }

  /** Waits until at least `count` requests arrived (fails after timeoutMs). */
  async waitFor(count: number, timeoutMs = 10_000): Promise<ReceivedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      if (Date.now() > deadline) {
        throw new Error(`sink got ${this.requests.length} requests, expected ${count}`);
      }
      await sleep(10);
    }
    return this.requests;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export async function startSink(responder?: Responder): Promise<RecordingSink> {
  return new RecordingSink(responder).start();
}

/** Writes manifests to a fresh folder and starts a whole Eventail on a random port. */
export async function startWithManifests(
  yamlText: string,
  options: Partial<EventailOptions> = {},
): Promise<RunningEventail & { dir: string; file: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-test-"));
  const file = path.join(dir, "manifests.yaml");
  writeFileSync(file, yamlText);
  const running = await startEventail({
    paths: [dir],
    port: 0,
    logger: silentLogger(),
    watch: false,
    drainMs: 2_000,
    ...options,
  });
  return Object.assign(running, { dir, file });
}

/**
 * Sinks and Eventail processes a test file starts, closed after each test, the latest first.
 * Call once at the top of the file.
 */
export function closedAfterEach() {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    async sink(responder?: Responder): Promise<RecordingSink> {
      const started = await startSink(responder);
      cleanups.push(() => started.close());
      return started;
    },
    async eventail(yamlText: string, options: Partial<EventailOptions> = {}) {
      const running = await startWithManifests(yamlText, options);
      cleanups.push(() => running.close());
      return running;
    },
  };
}

/** Polls until `condition` holds (fails after timeoutMs). */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A broker + trigger manifest pair, the shape most tests need. */
export function brokerYaml(name = "default", extra = ""): string {
  return `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: ${name}
  namespace: default
${extra}
`;
}

export function triggerYaml(
  name: string,
  subscriberUri: string,
  filterYaml = "",
  extra = "",
  broker = "default",
  annotations: Readonly<Record<string, string>> = {},
): string {
  const annotated = Object.entries(annotations)
    .map(([key, value]) => `\n    ${key}: ${JSON.stringify(value)}`)
    .join("");
  return `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${name}
  namespace: default${annotated === "" ? "" : `\n  annotations:${annotated}`}
spec:
  broker: ${broker}
${filterYaml}
  subscriber:
    uri: ${subscriberUri}
${extra}
`;
}

/** A token of a running Eventail's own issuer for `sub` towards `aud`, valid `ttlSec` seconds. */
export function ownToken(
  running: Pick<RunningEventail, "security">,
  sub: string,
  aud: string,
  ttlSec = 300,
): string {
  const iat = Math.floor(Date.now() / 1000);
  return running.security.keyRing.sign({
    iss: running.security.issuer,
    sub,
    aud,
    iat,
    exp: iat + ttlSec,
  });
}
