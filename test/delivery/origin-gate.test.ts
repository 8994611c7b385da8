import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { DeliveryOutcome } from "../../src/delivery/options.js";
import { delivery, harness, labels, sampleEvent, until } from "./harness.js";

/**
 * A subscriber that holds every request until released, counting how many it holds at once: the
 * dispatcher must never have more attempts in flight to one origin than its pool's connections.
 */
interface HoldingServer {
  url: string;
  held: number;
  maxHeld: number;
  received: string[];
  releaseAll(): void;
  close(): Promise<void>;
}

const servers: HoldingServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function holdingServer(): Promise<HoldingServer> {
  const waiting: Array<() => void> = [];
  let releasing = false;
  const state = { held: 0, maxHeld: 0, received: [] as string[] };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      state.received.push(String(req.headers["ce-id"]));
      const answer = () => {
        state.held--;
        res.writeHead(200).end();
      };
      state.held++;
      state.maxHeld = Math.max(state.maxHeld, state.held);
      if (releasing) answer();
      else waiting.push(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const handle: HoldingServer = {
    url: `http://127.0.0.1:${port}/subscriber`,
    get held() {
      return state.held;
    },
    get maxHeld() {
      return state.maxHeld;
    },
    received: state.received,
    releaseAll() {
      releasing = true;
      for (const answer of waiting.splice(0)) answer();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(handle);
  return handle;
}

describe("per-origin limit on attempts in flight", () => {
  it("keeps at most connectionsPerOrigin requests at one subscriber and delivers the rest in order", async () => {
    const subscriber = await holdingServer();
    const { dispatcher } = harness({ connectionsPerOrigin: 3 });
    const outcomes = Array.from({ length: 10 }, (_, i) =>
      dispatcher.deliver(sampleEvent({ id: `e${i}` }), subscriber.url, delivery(), labels),
    );

    await until(() => subscriber.held === 3, "three requests held");
    await sleep(100); // the other seven wait in the dispatcher, not on the wire
    expect(subscriber.received).toEqual(["e0", "e1", "e2"]);

    subscriber.releaseAll();
    const results = await Promise.all(outcomes);
    expect(results.map((r) => r.kind)).toEqual(Array(10).fill("delivered"));
    expect(subscriber.maxHeld).toBe(3);
    expect(subscriber.received).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`));
  });

  it("counts each origin on its own", async () => {
    const first = await holdingServer();
    const second = await holdingServer();
    const { dispatcher } = harness({ connectionsPerOrigin: 2 });
    const outcomes = [first, second].flatMap((server) =>
      Array.from({ length: 4 }, (_, i) =>
        dispatcher.deliver(sampleEvent({ id: `e${i}` }), server.url, delivery(), labels),
      ),
    );

    await until(() => first.held === 2 && second.held === 2, "two requests held at each");
    first.releaseAll();
    second.releaseAll();
    await Promise.all(outcomes);
    expect([first.maxHeld, second.maxHeld]).toEqual([2, 2]);
    expect([first.received.length, second.received.length]).toEqual([4, 4]);
  });

  it("a delivery waiting for a slot is dropped as shutdown when its signal aborts, and frees nothing it never held", async () => {
    const subscriber = await holdingServer();
    const { dispatcher } = harness({ connectionsPerOrigin: 1 });
    const shutdown = new AbortController();
    const holding = dispatcher.deliver(
      sampleEvent({ id: "held" }),
      subscriber.url,
      delivery(),
      labels,
    );
    await until(() => subscriber.held === 1, "the first request held");
    const waiting = dispatcher.deliver(
      sampleEvent({ id: "waiting" }),
      subscriber.url,
      delivery(),
      labels,
      { signal: shutdown.signal },
    );
    const third = dispatcher.deliver(
      sampleEvent({ id: "third" }),
      subscriber.url,
      delivery(),
      labels,
    );

    shutdown.abort();
    const cut: DeliveryOutcome = await waiting;
    expect(cut).toMatchObject({ kind: "dropped", reason: "shutdown" });

    subscriber.releaseAll();
    expect((await holding).kind).toBe("delivered");
    expect((await third).kind).toBe("delivered");
    expect(subscriber.received).toEqual(["held", "third"]);
    expect(subscriber.maxHeld).toBe(1);
  });
});
