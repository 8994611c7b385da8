/**
 * The producer: binary-mode CloudEvents over one undici keep-alive pool per target.
 *
 * - open loop: a fixed rate, sent on schedule whatever the responses do (latency figures);
 * - closed loop: a fixed number of requests in flight, and at most `window` events in flight end
 *   to end (sent but not yet counted by the sink), so a broker that accepts faster than it
 *   delivers is measured at the rate it can sustain instead of piling up a backlog.
 *
 * Every event carries the phase and its send time (ce-benchphase, ce-benchsent) for the sink.
 */
import net from "node:net";
import { Pool } from "undici";
import { nowUs, PHASE_HEADER, SENT_HEADER } from "../support/clock.js";
import { serveCalls } from "../support/rpc.js";
import type { ClosedLoad, LoadgenReady, LoadResult, LoadSpec, OpenLoad } from "./protocol.js";

/** A typical small JSON payload (about 200 bytes). */
const PAYLOAD = Buffer.from(
  JSON.stringify({
    order: "4f1c2a9e-6b0d-4e7a-9c55-2d3e8f1a7b60",
    customer: "c-102938",
    items: [
      { sku: "sku-1001", quantity: 2, price: 1999 },
      { sku: "sku-2002", quantity: 1, price: 4999 },
    ],
    currency: "EUR",
  }),
);

const sinkCounts = new Map<string, number>();
let feedbackWaiters: Array<() => void> = [];

const feedback = net.createServer((socket) => {
  let buffered = "";
  socket.setEncoding("utf8");
  socket.on("data", (text: string) => {
    buffered += text;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const space = line.lastIndexOf(" ");
      sinkCounts.set(line.slice(0, space), Number(line.slice(space + 1)));
    }
    const waiters = feedbackWaiters;
    feedbackWaiters = [];
    for (const wake of waiters) wake();
  });
  socket.on("error", () => socket.destroy());
});

/** Resolves on the next count from the sink, or after `ms` in case none comes. */
function nextFeedback(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    feedbackWaiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

const pools = new Map<string, Pool>();
function poolFor(origin: string, connections: number): Pool {
  const key = `${origin} ${connections}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
    pools.set(key, pool);
  }
  return pool;
}

/** A JSON body of exactly `bytes` bytes (at least the 10 of its frame). */
function paddedPayload(bytes: number): Buffer {
  return Buffer.from(`{"pad":"${"x".repeat(Math.max(0, bytes - 10))}"}`);
}

class Producer {
  sent = 0;
  accepted = 0;
  refusedTotal = 0;
  readonly refused: Record<string, number> = {};
  private readonly path: string;
  private readonly pool: Pool;
  private readonly body: Buffer;

  constructor(
    private readonly spec: LoadSpec,
    connections: number,
  ) {
    const url = new URL(spec.url);
    this.path = url.pathname;
    this.pool = poolFor(url.origin, connections);
    this.body = spec.payloadBytes === undefined ? PAYLOAD : paddedPayload(spec.payloadBytes);
  }

  async send(): Promise<void> {
    const n = this.sent++;
    const spec = this.spec;
    const headers = {
      "ce-specversion": "1.0",
      "ce-id": `${spec.phase}-${n}`,
      "ce-source": "/bench/loadgen",
      "ce-type": spec.types[n % spec.types.length]!,
      "content-type": "application/json",
      [PHASE_HEADER]: spec.phase,
      [SENT_HEADER]: String(nowUs()),
      ...spec.headers,
    };
    let outcome: string;
    try {
      const response = await this.pool.request({
        path: spec.paths === undefined ? this.path : spec.paths[n % spec.paths.length]!,
        method: "POST",
        headers,
        body: this.body,
      });
      await response.body.dump();
      outcome = String(response.statusCode);
    } catch {
      outcome = "error";
    }
    if (outcome === "202") this.accepted++;
    else {
      this.refusedTotal++;
      this.refused[outcome] = (this.refused[outcome] ?? 0) + 1;
    }
  }

  result(startUs: number, maxLagUs = 0): LoadResult {
    return {
      sent: this.sent,
      accepted: this.accepted,
      refused: this.refused,
      startUs,
      endUs: nowUs(),
      maxLagUs,
    };
  }
}

async function openLoop(spec: OpenLoad): Promise<LoadResult> {
  const producer = new Producer(spec, 256);
  const total = Math.round((spec.rate * spec.durationMs) / 1000);
  const intervalUs = 1e6 / spec.rate;
  const inFlight = new Set<Promise<void>>();
  const startUs = nowUs();
  let scheduled = 0;
  let maxLagUs = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = nowUs();
      while (scheduled < total && startUs + scheduled * intervalUs <= now) {
        maxLagUs = Math.max(maxLagUs, now - (startUs + scheduled * intervalUs));
        scheduled++;
        const sending = producer.send();
        inFlight.add(sending);
        void sending.finally(() => inFlight.delete(sending));
      }
      if (scheduled >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await Promise.all(inFlight);
  return producer.result(startUs, maxLagUs);
}

async function closedLoop(spec: ClosedLoad): Promise<LoadResult> {
  const producer = new Producer(spec, spec.concurrency);
  const startUs = nowUs();
  const endUs = startUs + spec.durationMs * 1000;
  const outstanding = () =>
    producer.sent -
    producer.refusedTotal -
    Math.floor((sinkCounts.get(spec.phase) ?? 0) / spec.fanout);
  const minEvents = spec.minEvents ?? 0;
  const worker = async () => {
    while (nowUs() < endUs || producer.sent < minEvents) {
      if (outstanding() >= spec.window) await nextFeedback(50);
      else await producer.send();
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  return producer.result(startUs);
}

feedback.listen(0, "127.0.0.1", () => {
  const { port } = feedback.address() as net.AddressInfo;
  serveCalls({ feedbackPort: port } satisfies LoadgenReady, {
    open: (spec: OpenLoad) => openLoop(spec),
    closed: (spec: ClosedLoad) => closedLoop(spec),
    /** One event; answers the HTTP status (or "error"). */
    one: async (spec: LoadSpec) => {
      const producer = new Producer(spec, 1);
      await producer.send();
      return producer.accepted === 1 ? "202" : Object.keys(producer.refused)[0]!;
    },
  });
});
