import type { AddressInfo } from "node:net";
import { Dispatcher } from "../../src/delivery/dispatcher.js";
import { DEFAULT_DELIVERY, type DeliveryOptions } from "../../src/delivery/options.js";
import type { DataPlane, WebhookTarget } from "../../src/events/ingress-target.js";
import { silentLogger } from "../../src/observability/logger.js";
import { Metrics } from "../../src/observability/metrics.js";
import { buildServer } from "../../src/server/app.js";
import { dispatcherSink, type EventSink } from "../../src/sources/source.js";
import { RecordingSink, type Responder } from "../support/sink.js";

/**
 * What source tests share: a real Dispatcher towards a real RecordingSink on 127.0.0.1, and the
 * real HTTP surface serving one webhook target. Everything started is closed by close().
 */
export class SourceHarness {
  readonly metrics = new Metrics();
  readonly logger = silentLogger();
  readonly dispatcher = new Dispatcher({ metrics: this.metrics, logger: this.logger });
  private readonly cleanups: Array<() => Promise<void>> = [];

  async recordingSink(responder?: Responder): Promise<RecordingSink> {
    const sink = await new RecordingSink(responder).start();
    this.cleanups.push(() => sink.close());
    return sink;
  }

  /** The EventSink a source gets from the reconciler: Dispatcher.deliver towards `url`. */
  sinkTo(url: string, delivery: Partial<DeliveryOptions> = {}, signal?: AbortSignal): EventSink {
    return dispatcherSink(
      this.dispatcher,
      url,
      { ...DEFAULT_DELIVERY, retry: 0, backoffDelayMs: 20, ...delivery },
      { namespace: "default", name: "source-under-test" },
      signal,
    );
  }

  /** Serves `target` at POST /sources/{ns}/{name} through buildServer on a random port. */
  async serveWebhook(target: WebhookTarget): Promise<string> {
    const plane: DataPlane = {
      isAccepting: () => true,
      broker: () => undefined,
      channel: () => undefined,
      flow: () => undefined,
      sink: () => undefined,
      webhook: (namespace, name) =>
        namespace === target.namespace && name === target.name ? target : undefined,
      readiness: async () => ({}),
    };
    const app = buildServer({ dataPlane: plane, metrics: this.metrics, logger: this.logger });
    await app.listen({ host: "127.0.0.1", port: 0 });
    this.cleanups.push(() => app.close());
    const { port } = app.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/sources/${target.namespace}/${target.name}`;
  }

  /** Runs `cleanup` at close(), before what was registered earlier. */
  defer(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async close(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup();
    await this.dispatcher.close();
  }
}

/** POSTs raw bytes with headers; resolves with the status and the parsed JSON body (if any). */
export async function post(
  url: string,
  body: Buffer | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const response = await fetch(url, { method: "POST", body, headers });
  const text = await response.text();
  return {
    status: response.status,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
  };
}
