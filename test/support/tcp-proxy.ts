/**
 * A TCP relay between a backing and its engine. Cutting it makes a process vanish without a
 * goodbye (the engine sees the connection drop with acks unsent, and nothing can reconnect
 * through it); muting it is a network partition (neither side hears anything more, not even the
 * other closing); a delay holds every chunk, in each direction, that long before passing it on,
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
  /** From now on nothing passes either way and no close is passed on: a silent partition. */
  mute(): void;
}

export interface TcpProxyOptions {
  /** Initial per-chunk delay in each direction (default 0). */
  readonly delayMs?: number;
  /** Sees every chunk the client sends, as it arrives (e.g. to count a protocol's frames). */
  readonly onClientChunk?: (chunk: Buffer) => void;
}

/**
 * Copies `from` to `to`, each chunk held until `delay()` ms after it arrived. A chunk never
 * overtakes an earlier one, even when the delay shrinks while chunks wait.
 */
function relay(from: net.Socket, to: net.Socket, delay: () => number, muted: () => boolean): void {
  const queue: Array<{ due: number; chunk: Buffer }> = [];
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const flush = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length > 0 && queue[0]!.due <= now) {
      const { chunk } = queue.shift()!;
      if (!muted()) to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(flush, queue[0]!.due - now);
    else if (ended && !muted()) to.end();
  };
  from.on("data", (chunk: Buffer) => {
    if (muted()) return;
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
    if (queue.length === 0 && !muted()) to.end();
  });
  from.on("close", () => {
    if (timer) clearTimeout(timer);
  });
}

export async function startTcpProxy(
  target: string,
  options: TcpProxyOptions = {},
): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  let delayMs = options.delayMs ?? 0;
  let muted = false;
  const isMuted = () => muted;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    if (options.onClientChunk) client.on("data", options.onClientChunk);
    relay(client, upstream, () => delayMs, isMuted);
    relay(upstream, client, () => delayMs, isMuted);
    // A reset on one side resets the other, as a dropped connection would (not once muted).
    client.on("close", (hadError) => hadError && !muted && upstream.destroy());
    upstream.on("close", (hadError) => hadError && !muted && client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  // Credentials, vhost and query stay: only where to connect changes.
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String(listening);
  return {
    url: url.toString().replace(/\/$/, ""),
    mute: () => {
      muted = true;
    },
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
