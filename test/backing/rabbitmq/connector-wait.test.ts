import net from "node:net";
import { describe, expect, it, vi } from "vitest";
import { RabbitConnector } from "../../../src/backing/rabbitmq/connection.js";
import { parseRabbitSettings } from "../../../src/backing/rabbitmq/settings.js";
import { silentLogger } from "../../../src/observability/logger.js";

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("waiting for RabbitMQ with no deadline", () => {
  it("sleeps until the connection changes instead of polling (few timers while it is down)", async () => {
    const port = await closedPort();
    const settings = parseRabbitSettings({
      kind: "rabbitmq",
      settings: { url: `amqp://guest:guest@127.0.0.1:${port}` },
    });
    const connector = new RabbitConnector(settings, silentLogger());
    const stop = new AbortController();
    const spy = vi.spyOn(globalThis, "setTimeout");
    try {
      const waiting = connector.connected({ signal: stop.signal }).catch((error: Error) => error);
      // Long enough for an Infinity timer (fired after 1 ms) to be re-armed hundreds of times.
      await new Promise((resolve) => setImmediate(resolve));
      await new Promise((resolve) => setTimeout(resolve, 500));
      stop.abort();
      expect(await waiting).toBeInstanceOf(Error);
      const infinite = spy.mock.calls.filter(([, ms]) => ms === Number.POSITIVE_INFINITY);
      expect(infinite).toHaveLength(0);
      // The reconnect backoff (250 ms, doubling) and the wait above: a handful, not hundreds.
      expect(spy.mock.calls.length).toBeLessThan(20);
    } finally {
      spy.mockRestore();
      await connector.close();
    }
  });
});
