import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { BackingConfig, EngineLease } from "../../src/backing/backing.js";
import { LEASE_BUCKET } from "../../src/backing/nats/lease.js";
import { createLease } from "../../src/backing/registry.js";
import { silentLogger } from "../../src/observability/logger.js";
import { LeaseElection } from "../../src/runtime/lease-election.js";
import { type ServiceName, serviceUrl } from "../support/services.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

/** Short enough for a test, long enough that a slow CI machine renews in time. */
const TERM_MS = 3_000;

const engines = (["redis", "nats", "rabbitmq"] as const).map((kind) => ({
  kind,
  url: serviceUrl(kind as ServiceName),
}));

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function lease(kind: BackingConfig["kind"], url: string, name: string): Promise<EngineLease> {
  const made = await createLease({ kind, settings: { url } }, name, TERM_MS, {
    logger: silentLogger(),
  });
  if (!made) throw new Error(`${kind} keeps no lease`);
  cleanups.push(() => made.close());
  return made;
}

async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.each(engines)("lease on $kind", ({ kind, url }) => {
  const name = () => `test-${randomBytes(4).toString("hex")}`;

  it.skipIf(!url)(
    "is held by one holder at a time, renewed by it, and free once released",
    async () => {
      const leaseName = name();
      const a = await lease(kind, url!, leaseName);
      const b = await lease(kind, url!, leaseName);
      expect(await a.tryAcquireOrRenew()).toBe(true);
      expect(await b.tryAcquireOrRenew()).toBe(false);
      expect(await a.tryAcquireOrRenew()).toBe(true);
      expect(await b.tryAcquireOrRenew()).toBe(false);
      await a.release();
      expect(await b.tryAcquireOrRenew()).toBe(true);
      expect(await a.tryAcquireOrRenew()).toBe(false);
    },
  );

  it.skipIf(!url)(
    "outlives its term while renewed, and passes to another once its holder is cut off",
    async () => {
      const leaseName = name();
      const proxy = await startTcpProxy(url!);
      cleanups.push(() => proxy.cut());
      const a = await lease(kind, proxy.url, leaseName);
      const b = await lease(kind, url!, leaseName);
      expect(await a.tryAcquireOrRenew()).toBe(true);
      // Renewed every third of the term for two terms: nobody else gets it meanwhile.
      for (let i = 0; i < 6; i++) {
        await sleep(TERM_MS / 3);
        expect(await a.tryAcquireOrRenew()).toBe(true);
        expect(await b.tryAcquireOrRenew()).toBe(false);
      }
      await proxy.cut();
      await eventually(() => b.tryAcquireOrRenew(), "the lease to pass to the other holder");
    },
  );

  it.skipIf(!url)(
    "a leader that cannot renew steps down before another process leads",
    async () => {
      const leaseName = name();
      const proxy = await startTcpProxy(url!);
      cleanups.push(() => proxy.cut());
      const changes: string[] = [];
      const elect = async (who: string, via: string) => {
        const election = new LeaseElection({
          lease: await lease(kind, via, leaseName),
          termMs: TERM_MS,
          logger: silentLogger(),
          onChange: (leader) => changes.push(`${who} ${leader ? "leads" : "steps down"}`),
        });
        cleanups.push(() => election.stop());
        await election.start();
        return election;
      };
      const a = await elect("a", proxy.url);
      expect(a.isLeader).toBe(true);
      const b = await elect("b", url!);
      expect(b.isLeader).toBe(false);
      await proxy.cut();
      await eventually(async () => b.isLeader, "b to lead");
      expect(changes).toEqual(["a leads", "a steps down", "b leads"]);
    },
  );

  it.skipIf(!url)(
    "an attempt that takes the lease after stop() began is handed back by stop()",
    async () => {
      const leaseName = name();
      const engine = await lease(kind, url!, leaseName);
      let send = () => {};
      const held = new Promise<void>((resolve) => {
        send = resolve;
      });
      // The attempt reaches the engine only once stop() has been called.
      const gated: typeof engine = {
        holder: engine.holder,
        tryAcquireOrRenew: async () => {
          await held;
          return engine.tryAcquireOrRenew();
        },
        release: () => engine.release(),
        close: () => engine.close(),
        ...(engine.onLost ? { onLost: (listener: () => void) => engine.onLost?.(listener) } : {}),
      };
      const election = new LeaseElection({
        lease: gated,
        termMs: TERM_MS,
        logger: silentLogger(),
        onChange: () => undefined,
      });
      const started = election.start();
      const stopped = election.stop();
      send();
      await Promise.all([started, stopped]);
      expect(election.isLeader).toBe(false);
      const other = await lease(kind, url!, leaseName);
      expect(await other.tryAcquireOrRenew(), "the lease is free once stop() resolved").toBe(true);
    },
  );
});

describe.skipIf(!serviceUrl("redis"))("lease on redis", () => {
  it("a renewal on a hung connection fails within the command timeout, not the blocking reads'", async () => {
    const proxy = await startTcpProxy(serviceUrl("redis")!);
    cleanups.push(() => proxy.cut());
    const made = await createLease(
      // A blocking read's allowance of ten minutes, which the lease's commands must not get.
      { kind: "redis", settings: { url: proxy.url, commandTimeoutMs: "1000", blockMs: "600000" } },
      `test-${randomBytes(4).toString("hex")}`,
      TERM_MS,
      { logger: silentLogger() },
    );
    cleanups.push(() => made!.close());
    expect(await made!.tryAcquireOrRenew()).toBe(true);
    proxy.setDelay(3_600_000);
    let outcome = "pending";
    made!.tryAcquireOrRenew().then(
      () => (outcome = "renewed"),
      () => (outcome = "failed"),
    );
    await eventually(async () => outcome !== "pending", "the renewal to end");
    expect(outcome).toBe("failed");
  }, 30_000);
});

describe.skipIf(!serviceUrl("nats"))("lease on nats", () => {
  const nats = serviceUrl("nats")!;

  it("is one lease for processes with different terms", async () => {
    const leaseName = `test-${randomBytes(4).toString("hex")}`;
    const make = async (termMs: number) => {
      const made = await createLease({ kind: "nats", settings: { url: nats } }, leaseName, termMs, {
        logger: silentLogger(),
      });
      cleanups.push(() => made!.close());
      return made!;
    };
    const a = await make(TERM_MS);
    const b = await make(TERM_MS * 2);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew(), "the other term's process").toBe(false);
  });

  it("keeps leading when a renewal it saw fail had landed", async () => {
    const leaseName = `test-${randomBytes(4).toString("hex")}`;
    const proxy = await startTcpProxy(nats);
    cleanups.push(() => proxy.cut());
    const a = await createLease(
      { kind: "nats", settings: { url: proxy.url, publishTimeoutMs: "1000" } },
      leaseName,
      TERM_MS,
      { logger: silentLogger() },
    );
    cleanups.push(() => a!.close());
    const b = await lease("nats", nats, leaseName);
    expect(await a!.tryAcquireOrRenew()).toBe(true);
    const { connect } = await import("nats");
    const watcher = await connect({ servers: new URL(nats).host });
    cleanups.push(() => watcher.close());
    const kv = await watcher.jetstream().views.kv(LEASE_BUCKET);
    const first = (await kv.get(leaseName))!.revision;
    // The renewal reaches NATS after a has given up on it: it lands, and a never hears so.
    proxy.setDelay(2_500);
    await expect(a!.tryAcquireOrRenew()).rejects.toThrow();
    proxy.setDelay(0);
    await eventually(async () => (await kv.get(leaseName))!.revision !== first, "the late renewal");
    expect(await a!.tryAcquireOrRenew(), "a renews its own lease").toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
  });
});

describe.skipIf(!serviceUrl("rabbitmq"))("lease on rabbitmq", () => {
  const rabbit = serviceUrl("rabbitmq")!;

  it("a holder gone silent steps down before RabbitMQ frees the lease, whatever heartbeat its URL sets", async () => {
    const leaseName = `test-${randomBytes(4).toString("hex")}`;
    const termMs = 15_000;
    // mute(): a network partition, RabbitMQ closing the connection included.
    const proxy = await startTcpProxy(rabbit);
    cleanups.push(() => proxy.cut());
    const changes: string[] = [];
    let muteAfterRenewal = false;
    const elect = async (who: string, url: string, renewMs?: number) => {
      const made = (await createLease({ kind: "rabbitmq", settings: { url } }, leaseName, termMs, {
        logger: silentLogger(),
      }))!;
      cleanups.push(() => made.close());
      const election = new LeaseElection({
        lease: {
          holder: made.holder,
          tryAcquireOrRenew: async () => {
            const held = await made.tryAcquireOrRenew();
            // From just after a renewal, a and RabbitMQ hear nothing more from each other.
            if (held && muteAfterRenewal) proxy.mute();
            return held;
          },
          release: () => made.release(),
          onLost: (listener) => made.onLost?.(listener),
          maxSilenceMs: () => made.maxSilenceMs?.(),
        },
        termMs,
        ...(renewMs !== undefined ? { renewMs } : {}),
        logger: silentLogger(),
        onChange: (leader) => changes.push(`${who} ${leader ? "leads" : "steps down"}`),
      });
      cleanups.push(() => election.stop(false));
      await election.start();
      return election;
    };
    // The data path's one-second heartbeat: RabbitMQ would drop the silent holder's queue long
    // before the holder, unaware, steps down at two thirds of the term.
    const viaProxy = new URL(proxy.url);
    viaProxy.searchParams.set("heartbeat", "1");
    const a = await elect("a", viaProxy.toString());
    expect(a.isLeader).toBe(true);
    // b checks often, so it takes the lease as soon as RabbitMQ frees it.
    const b = await elect("b", rabbit, 100);
    muteAfterRenewal = true;
    const deadline = Date.now() + 120_000;
    while (!b.isLeader && Date.now() < deadline) await sleep(200);
    expect(changes).toEqual(["a leads", "a steps down", "b leads"]);
  }, 150_000);
});
