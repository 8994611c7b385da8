/**
 * Parent ↔ child requests over the IPC channel of `child_process.fork`. The bench's helper
 * processes (sink, load generator, relay) each serve a few named calls; the parent awaits their
 * answers. Measurements never cross this channel per event, only per phase.
 */
import { type ChildProcess, fork } from "node:child_process";

interface CallMessage {
  readonly call: number;
  readonly method: string;
  readonly args: unknown;
}

interface AnswerMessage {
  readonly answer: number;
  readonly result?: unknown;
  readonly error?: string;
}

interface ReadyMessage {
  readonly ready: unknown;
}

type Handlers = Record<string, (args: never) => unknown>;

/** Child side: announces `ready` (e.g. the port it listens on), then answers calls. */
export function serveCalls(ready: unknown, handlers: Handlers): void {
  if (process.send === undefined) throw new Error("this process must be started with fork()");
  const send = process.send.bind(process);
  process.on("message", (message: CallMessage) => {
    const handler = handlers[message.method] as ((args: unknown) => unknown) | undefined;
    if (handler === undefined) {
      send({ answer: message.call, error: `unknown method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => send({ answer: message.call, result }),
        (error: unknown) => send({ answer: message.call, error: String(error) }),
      );
  });
  // The parent going away (Ctrl-C, crash) must not leave a helper listening; exiting rather than
  // dying of the signal lets `node --cpu-prof` write its profile.
  process.on("disconnect", () => process.exit(0));
  process.on("SIGTERM", () => process.exit(0));
  send({ ready });
}

/** Parent side: one forked helper process. */
export class HelperProcess<Ready> {
  private next = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void }
  >();
  private readonly exited: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly ready: Ready,
  ) {
    child.on("message", (message: AnswerMessage) => {
      const waiter = this.pending.get(message.answer);
      if (waiter === undefined) return;
      this.pending.delete(message.answer);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    void this.exited.then(() => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${name} exited`));
      this.pending.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Forks `modulePath` and waits for its ready message. */
  static async start<Ready>(
    name: string,
    modulePath: string,
    args: readonly string[] = [],
    execArgv: readonly string[] = [],
  ): Promise<HelperProcess<Ready>> {
    const child = fork(modulePath, [...args], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [...execArgv],
    });
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${name} exited with ${code}`));
      child.once("exit", onExit);
      child.once("message", (message: ReadyMessage) => {
        child.off("exit", onExit);
        resolve(message.ready as Ready);
      });
    });
    return new HelperProcess<Ready>(name, child, ready);
  }

  call<T>(method: string, args: unknown = {}): Promise<T> {
    const call = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(call, { resolve: resolve as (value: unknown) => void, reject });
      this.child.send({ call, method, args } satisfies CallMessage);
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
