/**
 * Issue 14, orphaned consumers, through the whole runtime: manifests are loaded, rewritten and
 * reloaded as `eventail run -f` would, events go through HTTP ingress, and the engine itself is
 * asked what it still holds. Each engine file supplies how to look into its engine.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { Backing } from "../../src/backing/backing.js";
import { brokerStream } from "../../src/backing/backing.js";
import { createBacking } from "../../src/backing/registry.js";
import type { Logger } from "../../src/observability/logger.js";
import { eventually, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";

export interface OrphanEngine {
  readonly kind: "memory" | "redis" | "nats" | "kafka" | "rabbitmq";
  /** ConfigMap data pointing at the engine; undefined skips the suite. */
  readonly connection: () => Readonly<Record<string, string>> | undefined;
  /** Consumer names (`trigger.<ns>.<name>`) the engine holds for the stream, when it can say. */
  readonly consumers: (stream: string, backings: Backing[]) => Promise<string[] | undefined>;
  /** Events the engine still holds on the stream, when it can say. */
  readonly retained: (stream: string, backings: Backing[]) => Promise<number | undefined>;
  /**
   * What `retained` reads once every consumer acknowledged everything: Redis trims by MINID
   * below the oldest group's last-delivered entry, so that one entry stays.
   */
  readonly retainedWhenDone: number;
  /** Whether the stream still exists on the engine, when it can say. */
  readonly streamExists: (stream: string, backings: Backing[]) => Promise<boolean | undefined>;
  /** Removes what a test left on a shared engine. */
  readonly forget: (stream: string) => Promise<void>;
  /**
   * For an engine that cannot show its consumers (the Kafka mock): a logger whose warnings show
   * that the deletion was asked for and refused, not skipped.
   */
  readonly logger?: () => { logger: Logger; warnings: () => string[] };
}

interface Trigger {
  readonly name: string;
  readonly sink: RecordingSink;
  /** Its broker; `default` when absent. A broker named here is written beside `default`. */
  readonly broker?: string;
}

const DRAIN_MS = 2_000;

function manifests(
  engine: OrphanEngine,
  namespace: string,
  triggers: readonly Trigger[],
  broker = true,
): string {
  const documents: unknown[] = [];
  if (broker) {
    documents.push(
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "backing", namespace },
        data: { backing: engine.kind, ...engine.connection() },
      },
      {
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name: "default", namespace },
        spec: { config: { apiVersion: "v1", kind: "ConfigMap", name: "backing" } },
      },
    );
    const others = new Set(triggers.map((t) => t.broker ?? "default"));
    others.delete("default");
    for (const name of others) {
      documents.push({
        apiVersion: "eventing.knative.dev/v1",
        kind: "Broker",
        metadata: { name, namespace },
        spec: { config: { apiVersion: "v1", kind: "ConfigMap", name: "backing" } },
      });
    }
  }
  for (const trigger of triggers) {
    documents.push({
      apiVersion: "eventing.knative.dev/v1",
      kind: "Trigger",
      metadata: { name: trigger.name, namespace },
      spec: { broker: trigger.broker ?? "default", subscriber: { uri: trigger.sink.url } },
    });
  }
  // YAML reads JSON.
  return documents.map((d) => JSON.stringify(d)).join("\n---\n") || "# every resource deleted\n";
}

export function describeOrphans(engine: OrphanEngine): void {
  const connection = engine.connection();
  describe.skipIf(!connection)(`orphaned consumers on ${engine.kind}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    async function setUp(names: string[]) {
      const namespace = `orph-${randomBytes(4).toString("hex")}`;
      const stream = brokerStream(namespace, "default");
      cleanups.push(() => engine.forget(stream));
      const triggers: Trigger[] = [];
      for (const name of names) {
        const sink = await startSink();
        cleanups.push(() => sink.close());
        triggers.push({ name, sink });
      }
      const backings: Backing[] = [];
      const logging = engine.logger?.();
      const running = await startWithManifests(manifests(engine, namespace, triggers), {
        drainMs: DRAIN_MS,
        ...(logging ? { logger: logging.logger } : {}),
        createBacking: async (config, logger) => {
          const backing = await createBacking(config, { logger });
          backings.push(backing);
          return backing;
        },
      });
      let closed = false;
      cleanups.push(async () => {
        if (!closed) await running.close();
      });
      let sent = 0;
      const ingress = `${running.url}/${namespace}/default`;
      return {
        namespace,
        stream,
        triggers,
        backings,
        running,
        warnings: () => logging?.warnings() ?? [],
        consumer: (name: string) => `trigger.${namespace}.${name}`,
        /** Rewrites the manifests and reloads them, as an edit under `eventail run -f` does. */
        async reload(next: readonly Trigger[], broker = true): Promise<void> {
          writeFileSync(running.file, manifests(engine, namespace, next, broker));
          expect(await running.reload()).toEqual([]);
        },
        /** Posts `count` events; resolves with the HTTP statuses. */
        async send(count: number): Promise<number[]> {
          const statuses: number[] = [];
          for (let i = 0; i < count; i++) {
            const response = await request(ingress, {
              method: "POST",
              headers: {
                "ce-specversion": "1.0",
                "ce-id": `e-${sent++}`,
                "ce-source": "/orphans",
                "ce-type": "dev.eventail.orphans",
                "content-type": "application/json",
              },
              body: "{}",
            });
            await response.body.dump();
            statuses.push(response.statusCode);
          }
          return statuses;
        },
        async close(): Promise<void> {
          closed = true;
          await running.close();
        },
      };
    }

    /** The stream lets go of every event the remaining trigger `keep` took; only its consumer is left. */
    async function onlyKeepRemains(t: Awaited<ReturnType<typeof setUp>>): Promise<void> {
      if ((await engine.retained(t.stream, t.backings)) !== undefined) {
        let retained: number | undefined;
        await eventually(
          async () => {
            retained = await engine.retained(t.stream, t.backings);
            return retained === engine.retainedWhenDone;
          },
          15_000,
          `the stream to hold ${engine.retainedWhenDone} event(s) (last read: ${retained})`,
        );
      }
      const consumers = await engine.consumers(t.stream, t.backings);
      if (consumers !== undefined) expect(consumers).toEqual([t.consumer("keep")]);
    }

    it("deleting one of two triggers removes its consumer: the other gets all 20 later events and the engine keeps none of them", async () => {
      const t = await setUp(["keep", "drop"]);
      const [keep, drop] = t.triggers as [Trigger, Trigger];
      expect(await t.send(1)).toEqual([202]);
      await keep.sink.waitFor(1);
      await drop.sink.waitFor(1);

      await t.reload([keep]);
      expect(await t.send(20)).toEqual(Array(20).fill(202));
      await keep.sink.waitFor(21, 20_000);

      expect(drop.sink.requests).toHaveLength(1);
      await onlyKeepRemains(t);
      if (engine.logger) {
        expect(t.warnings().filter((w) => w.includes(t.consumer("drop")))).not.toEqual([]);
        expect(t.warnings().filter((w) => w.includes(t.consumer("keep")))).toEqual([]);
      }
      expect(await t.running.reconciler.readiness()).toMatchObject({ reconciled: true });
    });

    it("a renamed trigger is a delete plus a create: the old consumer goes, the new one gets every later event once", async () => {
      const t = await setUp(["keep", "old-name"]);
      const [keep, renamed] = t.triggers as [Trigger, Trigger];
      await t.reload([keep, { name: "new-name", sink: renamed.sink }]);
      expect(await t.send(10)).toEqual(Array(10).fill(202));
      await keep.sink.waitFor(10, 20_000);
      await renamed.sink.waitFor(10, 20_000);

      const ids = renamed.sink.events.map((e) => String(e.attributes["id"]));
      expect(new Set(ids).size).toBe(10);
      const consumers = await engine.consumers(t.stream, t.backings);
      if (consumers !== undefined) {
        expect(consumers.sort()).toEqual([t.consumer("keep"), t.consumer("new-name")].sort());
      }
    });

    it("a trigger moved to another broker leaves no consumer on its old broker's stream", async () => {
      const t = await setUp(["keep", "mover"]);
      const [keep, mover] = t.triggers as [Trigger, Trigger];
      cleanups.push(() => engine.forget(brokerStream(t.namespace, "other")));
      expect(await t.send(1)).toEqual([202]);
      await mover.sink.waitFor(1);

      await t.reload([keep, { ...mover, broker: "other" }]);
      expect(await t.send(20)).toEqual(Array(20).fill(202));
      await keep.sink.waitFor(21, 20_000);
      expect(mover.sink.requests).toHaveLength(1);
      await onlyKeepRemains(t);
    });

    it("an updated trigger and a shutdown keep the consumer: only a deletion removes it", async () => {
      const t = await setUp(["keep"]);
      const [keep] = t.triggers as [Trigger];
      const other = await startSink();
      cleanups.push(() => other.close());
      await t.reload([{ name: "keep", sink: other }]);
      expect(await t.send(3)).toEqual([202, 202, 202]);
      await other.waitFor(3, 20_000);
      expect(keep.sink.requests).toHaveLength(0);
      expect(await engine.consumers(t.stream, t.backings)).toEqual(
        engine.kind === "kafka" ? undefined : [t.consumer("keep")],
      );
      await t.close();
      if (engine.kind !== "memory") {
        // The memory backing ends with its process; a durable engine must keep the position.
        const after = await engine.consumers(t.stream, []);
        if (after !== undefined) expect(after).toEqual([t.consumer("keep")]);
      }
    });

    it("a broker deleted while it holds undelivered events takes its stream and its triggers' consumers along", async () => {
      const t = await setUp(["stuck"]);
      const [stuck] = t.triggers as [Trigger];
      stuck.sink.respondWith(() => ({ status: 503 }));
      expect(await t.send(5)).toEqual(Array(5).fill(202));
      await stuck.sink.waitFor(1);
      expect(await engine.streamExists(t.stream, t.backings)).not.toBe(false);

      await t.reload([], false);
      const exists = await engine.streamExists(t.stream, t.backings);
      if (exists !== undefined) expect(exists).toBe(false);
      const consumers = await engine.consumers(t.stream, t.backings);
      if (consumers !== undefined) expect(consumers).toEqual([]);
      expect(await t.send(1)).toEqual([404]);
      expect(await t.running.reconciler.readiness()).toMatchObject({ reconciled: true });
    });
  });
}
