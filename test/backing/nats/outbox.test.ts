import { setImmediate as nextTurn } from "node:timers/promises";
import type { JsMsg } from "nats";
import { describe, expect, it, vi } from "vitest";
import { ACK_DELAY_MS, Outbox } from "../../../src/backing/nats/outbox.js";

function recorder() {
  const log: string[] = [];
  const msg = (name: string) => ({ ack: () => log.push(`ack ${name}`) }) as unknown as JsMsg;
  const send =
    (name: string, sent = true) =>
    () => {
      log.push(`send ${name}`);
      return sent;
    };
  return { log, msg, send };
}

describe("NATS outbox", () => {
  it("hands every send of a turn to the client together, later in the same turn", async () => {
    const outbox = new Outbox();
    const { log, send } = recorder();
    outbox.defer(send("a"));
    outbox.defer(send("b"));
    expect(log).toEqual([]);
    await nextTurn();
    expect(log).toEqual(["send a", "send b"]);
  });

  it("sends acks along with the next write that carries something", async () => {
    const outbox = new Outbox();
    const { log, msg, send } = recorder();
    outbox.ack(msg("1"));
    outbox.ack(msg("2"));
    outbox.defer(send("publish"));
    await nextTurn();
    expect(log).toEqual(["send publish", "ack 1", "ack 2"]);
  });

  it("keeps acks back from a turn that sent nothing, then sends them after the ack delay", () => {
    // The ack delay is a few milliseconds: on a busy machine a real turn can outlast it, so the
    // clock is the test's, and it checks the delay the outbox chose rather than the machine.
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setImmediate"] });
    try {
      const outbox = new Outbox();
      const { log, msg, send } = recorder();
      outbox.ack(msg("1"));
      outbox.defer(send("no room to ask for", false));
      vi.advanceTimersByTime(0);
      expect(log).toEqual(["send no room to ask for"]);
      vi.advanceTimersByTime(ACK_DELAY_MS - 1);
      expect(log).toEqual(["send no room to ask for"]);
      vi.advanceTimersByTime(1);
      expect(log).toEqual(["send no room to ask for", "ack 1"]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not hold a large batch of acks for company", async () => {
    const outbox = new Outbox();
    const { log, msg } = recorder();
    for (let i = 0; i < 256; i++) outbox.ack(msg(String(i)));
    await nextTurn();
    expect(log).toHaveLength(256);
  });

  it("flushAll sends queued sends and acks at once; an ack on a closed connection is dropped", () => {
    const outbox = new Outbox();
    const { log, msg, send } = recorder();
    outbox.ack({
      ack: () => {
        throw new Error("closed");
      },
    } as unknown as JsMsg);
    outbox.ack(msg("1"));
    outbox.defer(send("pull", false));
    outbox.flushAll();
    expect(log).toEqual(["send pull", "ack 1"]);
  });

  it("runs the other sends when one throws, and reports it instead of throwing from its setImmediate", async () => {
    // A throw there is an uncaught exception: it would end the process (vitest fails the run).
    const failures: unknown[] = [];
    const outbox = new Outbox((error) => failures.push(error));
    const { log, send } = recorder();
    outbox.defer(() => {
      throw new Error("boom");
    });
    outbox.defer(send("b"));
    await nextTurn();
    expect(log).toEqual(["send b"]);
    expect(failures).toEqual([new Error("boom")]);
  });
});
