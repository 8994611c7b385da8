import { Redis } from "ioredis";
import { afterAll, describe, it } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { streamKey } from "../../src/backing/redis/keys.js";
import { serviceUrl } from "../support/services.js";
import { requestReplyScaleOut } from "./request-reply-scale-out.js";

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
