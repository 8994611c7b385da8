import { connect, type NatsConnection } from "nats";
import { describe, it } from "vitest";
import { brokerStream } from "../../src/backing/backing.js";
import { durableName, jetStreamName } from "../../src/backing/nats/naming.js";
import { serviceUrl } from "../support/services.js";
import { requestReplyScaleOut } from "./request-reply-scale-out.js";

const url = serviceUrl("nats");

async function withNats<T>(look: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url! });
  try {
    return await look(nc);
  } finally {
    await nc.close();
  }
}

describe.skipIf(!url)("RequestReply across processes on a NATS JetStream broker", () => {
  it("answers every request with its own reply, whichever process holds it", async () => {
    const stream = (broker: string) => jetStreamName(brokerStream("default", broker));
    await requestReplyScaleOut({
      config: { backing: "nats", url: url! },
      consumers: (broker) =>
        withNats(async (nc) => {
          const jsm = await nc.jetstreamManager();
          const listed = await jsm.consumers.list(stream(broker)).next();
          return listed.map((info) => info.name).sort();
        }),
      cleanup: (broker) =>
        withNats(async (nc) => {
          const jsm = await nc.jetstreamManager();
          await jsm.streams.delete(stream(broker)).catch(() => false);
        }),
      durable: durableName,
    });
  }, 120_000);
});
