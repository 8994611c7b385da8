import net from "node:net";

/**
 * A TCP relay between a backing and its engine. Cutting it is how tests make an Eventail
 * process vanish without a goodbye: the engine sees the connection drop with acks unsent, and
 * nothing can reconnect through it.
 */
export interface TcpProxy {
  readonly url: string;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
}

export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  return {
    url: `nats://127.0.0.1:${listening}`,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
