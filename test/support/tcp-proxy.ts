/**
 * A TCP relay between a backing and its engine. Cutting it makes a process vanish without a
 * goodbye (the engine sees the connection drop with acks unsent, and nothing can reconnect
 * through it); a delay holds every chunk, in each direction, that long before passing it on,
 * which is network latency on a kernel without the netem qdisc.
 */
import net from "node:net";

export interface TcpProxy {
  /** The target's URL with the proxy's address in place of the target's. */
  readonly url: string;
  /** From now on, each chunk is forwarded `ms` after it arrived (0: at once), order kept. */
  setDelay(ms: number): void;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Initial per-chunk delay in each direction (default 0). */
  readonly delayMs?: number;
}

/**
 * Copies `from` to `to`, each chunk held until `delay()` ms after it arrived. A chunk never
 * overtakes an earlier one, even when the delay shrinks while chunks wait.
 */
function relay(from: net.Socket, to: net.Socket, delay: () => number): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) to.write(queue.shift()!.chunk);
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended) to.end();
  };
  from.on("data", (chunk: Buffer) => {
    const ms = delay();
    if (ms <= 0 && queue.length === 0) {
      to.write(chunk);
      return;
    }
    queue.push({ due: Date.now() + ms, chunk });
    timer ??= setTimeout(flush, Math.max(0, queue[0]!.due - Date.now()));
  });
  from.on("end", () => {
    ended = true;
    if (queue.length === 0) to.end();
  });
  from.on("close", () => {
    if (timer) clearTimeout(timer);
  });
}

export async function startTcpProxy(
  target: string,
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const { protocol, hostname, port } = new URL(target);
  let delayMs = options.delayMs ?? 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    relay(client, upstream, () => delayMs);
    relay(upstream, client, () => delayMs);
    // A reset on one side resets the other, as a dropped connection would.
    client.on("close", (hadError) => hadError && upstream.destroy());
    upstream.on("close", (hadError) => hadError && client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  return {
    url: `${protocol}//127.0.0.1:${listening}`,
    setDelay: (ms) => {
      delayMs = ms;
    },
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
