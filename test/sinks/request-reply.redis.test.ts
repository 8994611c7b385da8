import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { streamKey } from "../../src/backing/redis/keys.js";
import type { RequestReplyRuntime } from "../../src/sinks/request-reply.js";
import { serviceUrl } from "../support/services.js";
import { type RecordingSink, startSink, startWithManifests, triggerYaml } from "../support/sink.js";
import { ask, dataOf, requestEvent, requestReplyYaml, responder } from "./request-reply-support.js";

const url = serviceUrl("redis");

type Running = Awaited<ReturnType<typeof startWithManifests>>;

/**
 * Two Eventail processes on one Redis broker. Only B has the responder's trigger, so every
 * reply to a request held by A is delivered by B, re-enters the broker through B, and must be
 * picked out of Redis by A's own reply watch — while B's watch passes over it.
 */
describe.skipIf(!url)("RequestReply across processes on a Redis broker", () => {
  const redis = url ? new Redis(url) : undefined;
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(() => redis?.disconnect());

  const broker = `rr-${Date.now().toString(36)}`;
  const key = streamKey(brokerStream("default", broker));

  const brokerYaml = `apiVersion: v1
kind: ConfigMap
metadata:
  name: redis-backing
  namespace: default
data:
  backing: redis
  url: ${url}
  blockMs: "200"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: ${broker}
  namespace: default
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: redis-backing
`;

  async function process(yaml: string): Promise<Running> {
    const running = await startWithManifests(yaml);
    cleanups.push(() => running.close());
    return running;
  }

  async function groups(): Promise<string[]> {
    if ((await redis!.exists(key)) === 0) return [];
    const rows = (await redis!.xinfo("GROUPS", key)) as unknown[][];
    return rows.map((fields) => String(fields[fields.indexOf("name") + 1])).sort();
  }

  it("answers every request with its own reply, whichever process holds it", async () => {
    cleanups.push(() => redis!.del(key));
    const target: RecordingSink = await startSink(responder);
    cleanups.push(() => target.close());
    const rr = requestReplyYaml("rr", "  timeout: PT60S\n", broker);
    const a = await process(brokerYaml + rr);
    const b = await process(
      brokerYaml +
        triggerYaml(
          "responder",
          target.url,
          "  filter:\n    attributes:\n      type: request",
          "",
          broker,
        ) +
        rr,
    );
    const watchA = a.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const watchB = b.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    // Each process watches under a name of its own, so each sees every reply.
    expect(watchA.consumerName).not.toBe(watchB.consumerName);
    expect(await groups()).toEqual(
      [watchA.consumerName, watchB.consumerName, "trigger.default.responder"].sort(),
    );

    const count = 100;
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        ask(
          `${(i % 2 === 0 ? a : b).url}/requestreply/default/rr`,
          requestEvent(`req-${i}`, i + 1),
        ),
      ),
    );
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(dataOf(answer.event!)).toEqual({ request: `req-${i}`, doubled: (i + 1) * 2 });
    }
    expect(watchA.waiting + watchB.waiting).toBe(0);

    // A process that stops takes its reply watch off the engine: nothing left to pin the stream.
    await a.close();
    expect(await groups()).toEqual([watchB.consumerName, "trigger.default.responder"].sort());
  }, 120_000);
});
