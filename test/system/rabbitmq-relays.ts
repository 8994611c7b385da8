/**
 * RabbitMQ for the system tests is the machine's shared node (a private node needs its own
 * node name, ports, cookie and data dirs, and seconds of start-up on a busy host); these relays
 * in front of it make it go away and come back for one test without touching anyone else's
 * connections: the node sees only the relay's connections close, as it would a dead client's.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface SwitchableRelay {
  /** The target's URL (credentials and vhost kept) with the relay's address in its place. */
  readonly url: string;
  /** Resets every connection and refuses new ones, as a killed engine's host would. */
  refuse(): Promise<void>;
  /** Stops passing bytes on, both ways, in open and new connections: a hung engine. */
  hold(): void;
  /** Passes bytes again, and listens again on the same port if it was refusing. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Whether bytes pass; while held, chunks and closes wait for the gate to open. */
class Gate {
  held = false;
  readonly #waiting: Array<() => void> = [];

  pass(action: () => void): void {
    if (this.held) this.#waiting.push(action);
    else action();
  }

  open(): void {
    this.held = false;
    for (const action of this.#waiting.splice(0)) action();
  }
}

/** Copies both ways through `gate`; a close on either side closes the other. */
function pipe(client: net.Socket, upstream: net.Socket, sockets: Set<net.Socket>, gate: Gate) {
  for (const [from, to] of [
    [client, upstream],
    [upstream, client],
  ] as const) {
    sockets.add(from);
    from.on("close", () => sockets.delete(from));
    from.on("error", () => from.destroy());
    from.on("data", (chunk: Buffer) => gate.pass(() => to.write(chunk)));
    from.on("close", () => gate.pass(() => to.destroy()));
  }
}

/** A TCP relay on 127.0.0.1 in front of `target` (an amqp:// URL). */
export async function startSwitchableRelay(target: string): Promise<SwitchableRelay> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const gate = new Gate();
  const server = net.createServer((client) => {
    pipe(client, net.connect({ host: hostname, port: Number(port || 5672) }), sockets, gate);
  });
  const listen = (at: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at, "127.0.0.1", () => {
        server.off("error", reject);
        resolve((server.address() as net.AddressInfo).port);
      });
    });
  const listening = await listen(0);
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String(listening);
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });
  return {
    url: url.toString(),
    refuse: async () => {
      const closed = stopListening();
      for (const socket of sockets) socket.resetAndDestroy();
      await closed;
    },
    hold: () => {
      gate.held = true;
    },
    restore: async () => {
      gate.open();
      if (!server.listening) await listen(listening);
    },
    close: async () => {
      gate.open();
      const closed = stopListening();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export interface UnixRelay {
  /** The Unix socket path; path sockets are reachable from inside any network namespace. */
  readonly socket: string;
  close(): Promise<void>;
}

/**
 * A relay from a Unix socket to `target`'s TCP address, so a relay inside a network namespace
 * (whose 127.0.0.1 is its own) can reach the host's RabbitMQ.
 */
export async function startUnixRelay(target: string): Promise<UnixRelay> {
  const { hostname, port } = new URL(target);
  const dir = mkdtempSync(path.join(tmpdir(), "eventail-amqp-"));
  const socket = path.join(dir, "amqp.sock");
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    pipe(client, net.connect({ host: hostname, port: Number(port || 5672) }), sockets, new Gate());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, () => resolve());
  });
  return {
    socket,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const open of sockets) open.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The relay that runs inside the namespace (`node -e`): listens on argv[1]:argv[2] and passes
 * each connection to the Unix socket argv[3]. Node's own binary runs it, so no socat is needed.
 */
export const NAMESPACE_RELAY_SCRIPT = `
const net = require("node:net");
const [host, port, socket] = process.argv.slice(1);
net.createServer((client) => {
  const upstream = net.connect(socket);
  for (const s of [client, upstream]) s.on("error", () => s.destroy());
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
}).listen(Number(port), host);
`;

/** `url` with the credentials and vhost of `like` (a relay's URL carries only its address). */
export function withCredentialsOf(url: string, like: string): string {
  const from = new URL(like);
  const to = new URL(url);
  to.username = from.username;
  to.password = from.password;
  to.pathname = from.pathname;
  to.search = from.search;
  return to.toString();
}
