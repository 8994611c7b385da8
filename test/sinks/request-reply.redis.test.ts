import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { streamKey } from "../../src/backing/redis/keys.js";
import { canStartRedisEngine, startRedisEngine } from "../support/redis-engine.js";
import { serviceUrl } from "../support/services.js";
import { startWithManifests } from "../support/sink.js";
import { requestReplyScaleOut } from "./request-reply-scale-out.js";
import { ask, requestEvent, requestReplyYaml } from "./request-reply-support.js";

const url = serviceUrl("redis");

describe.skipIf(!url)("RequestReply across processes on a Redis broker", () => {
  const redis = url ? new Redis(url) : undefined;
  afterAll(() => redis?.disconnect());
  const key = (broker: string) => streamKey(brokerStream("default", broker));

  it("answers every request with its own reply, whichever process holds it", async () => {
    await requestReplyScaleOut({
      config: { backing: "redis", url: url!, blockMs: "200" },
      consumers: async (broker) => {
        if ((await redis!.exists(key(broker))) === 0) return [];
        const rows = (await redis!.xinfo("GROUPS", key(broker))) as unknown[][];
        return rows.map((fields) => String(fields[fields.indexOf("name") + 1])).sort();
      },
      cleanup: async (broker) => void (await redis!.del(key(broker))),
    });
  }, 120_000);
});

describe.skipIf(!canStartRedisEngine())("RequestReply while its Redis engine hangs", () => {
  it("a request whose publish outlasts the timeout answers once, with the publish's 503", async () => {
    const engine = await startRedisEngine();
    try {
      const running = await startWithManifests(`apiVersion: v1
kind: ConfigMap
metadata:
  name: durable
  namespace: default
data:
  backing: redis
  url: ${engine.url}
  commandTimeoutMs: "1000"
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata:
  name: default
  namespace: default
spec:
  config:
    apiVersion: v1
    kind: ConfigMap
    name: durable
${requestReplyYaml("rr", "  timeout: PT0.1S\n")}`);
      try {
        await engine.hang();
        // The wait times out while the publish still hangs; nobody awaits it yet, and that must
        // not surface as an unhandled rejection (vitest fails the file on one).
        const answer = await ask(`${running.url}/requestreply/default/rr`, requestEvent("h", 1));
        expect(answer.status).toBe(503);
        expect(JSON.parse(answer.body.toString())).toMatchObject({ code: "BACKING_UNAVAILABLE" });
      } finally {
        engine.resume();
        await running.close();
      }
    } finally {
      await engine.stop();
    }
  }, 60_000);
});
