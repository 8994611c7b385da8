/**
 * RequestReply in a scale-out: two Eventail processes on one durable broker. Only process B has
 * the responder's trigger, so every reply to a request held by A is delivered by B, re-enters the
 * broker through B, and must be picked out of the engine by A's own reply watch, while B's watch
 * passes over it. Each engine's file runs it with a way to list the consumers it holds.
 */
import { expect } from "vitest";
import type { RequestReplyRuntime } from "../../src/sinks/request-reply.js";
import { startSink, startWithManifests, triggerYaml } from "../support/sink.js";
import { ask, dataOf, requestEvent, requestReplyYaml, responder } from "./request-reply-support.js";

export interface ScaleOutEngine {
  /** `data` of the Broker's ConfigMap. */
  readonly config: Readonly<Record<string, string>>;
  /** The names of the consumers the engine holds on the broker's stream, sorted. */
  consumers(broker: string): Promise<string[]>;
  /** The engine's name for a Backing consumer name (default: the same). */
  readonly durable?: (consumer: string) => string;
  /** Removes what the test left on the engine. */
  cleanup(broker: string): Promise<void>;
}

export async function requestReplyScaleOut(engine: ScaleOutEngine): Promise<void> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const broker = `rr-${Date.now().toString(36)}`;
  try {
    cleanups.push(() => engine.cleanup(broker));
    const config = Object.entries(engine.config)
      .map(([key, value]) => `\n  ${key}: ${JSON.stringify(value)}`)
      .join("");
    const brokerYaml = `apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: default
data:${config}
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
    name: durable
`;
    const target = await startSink(responder);
    cleanups.push(() => target.close());
    const rr = requestReplyYaml("rr", "  timeout: PT60S\n", broker);
    const trigger = triggerYaml(
      "responder",
      target.url,
      "  filter:\n    attributes:\n      type: request",
      "",
      broker,
    );
    const a = await startWithManifests(brokerYaml + rr);
    cleanups.push(() => a.close());
    const b = await startWithManifests(brokerYaml + trigger + rr);
    cleanups.push(() => b.close());
    const watchA = a.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    const watchB = b.reconciler.requestReply("default", "rr") as RequestReplyRuntime;
    // Each process watches under a name of its own, so each sees every reply.
    expect(watchA.consumerName).not.toBe(watchB.consumerName);
    const named = (...names: string[]) => names.map(engine.durable ?? ((name) => name)).sort();
    expect(await engine.consumers(broker)).toEqual(
      named(watchA.consumerName, watchB.consumerName, "trigger.default.responder"),
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
    expect(await engine.consumers(broker)).toEqual(
      named(watchB.consumerName, "trigger.default.responder"),
    );
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup();
  }
}
