import { connect, type NatsConnection } from "nats";
import type { Backing } from "../../../src/backing/backing.js";
import { createBacking } from "../../../src/backing/nats/index.js";
import { jetStreamName } from "../../../src/backing/nats/naming.js";
import { silentLogger } from "../../../src/observability/logger.js";

/**
 * Creates NATS backings for tests and remembers every stream they touch, so the test can
 * delete exactly those from the shared engine afterwards.
 */
export class JetStreamFixture {
  readonly #streams = new Set<string>();
  readonly #backings: Backing[] = [];

  constructor(readonly url: string) {}

  async backing(settings: Record<string, string> = {}): Promise<Backing> {
    const backing = await createBacking(
      { kind: "nats", settings: { url: this.url, ...settings } },
      { logger: silentLogger() },
    );
    this.#backings.push(backing);
    return this.track(backing);
  }

  /** A view of `backing` that records the streams it publishes to and subscribes on. */
  track(backing: Backing): Backing {
    const streams = this.#streams;
    return {
      kind: backing.kind,
      publish(stream, events) {
        streams.add(stream);
        return backing.publish(stream, events);
      },
      subscribe(stream, name, handler, options) {
        streams.add(stream);
        return backing.subscribe(stream, name, handler, options);
      },
      removeConsumer: (stream, name) => backing.removeConsumer(stream, name),
      removeStream: (stream) => backing.removeStream(stream),
      ready: () => backing.ready(),
      close: () => backing.close(),
    };
  }

  /** A plain connection for looking at what the backing created. */
  async inspect<T>(look: (nc: NatsConnection) => Promise<T>): Promise<T> {
    const nc = await connect({ servers: this.url });
    try {
      return await look(nc);
    } finally {
      await nc.close();
    }
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.#backings.splice(0).map((b) => b.close()));
    const streams = [...this.#streams];
    this.#streams.clear();
    if (streams.length === 0) return;
    await this.inspect(async (nc) => {
      const jsm = await nc.jetstreamManager();
      for (const stream of streams) {
        await jsm.streams.delete(jetStreamName(stream)).catch(() => false);
      }
    });
  }
}
