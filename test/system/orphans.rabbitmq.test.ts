import { execFileSync } from "node:child_process";
import { type ChannelModel, connect } from "amqplib";
import { afterAll, beforeAll } from "vitest";
import { exchangeName } from "../../src/backing/rabbitmq/naming.js";
import { serviceUrl } from "../support/services.js";
import { describeOrphans } from "./orphans-suite.js";

const url = serviceUrl("rabbitmq");
let admin: ChannelModel | undefined;
beforeAll(async () => {
  if (url) admin = await connect(url);
});
afterAll(() => admin?.close());

/**
 * The engine's own account of the queues (AMQP cannot list them): rabbitmqctl on this machine,
 * undefined where it cannot answer (the suite then checks only what the runtime did).
 */
function queues(): Array<{ name: string; messages: number }> | undefined {
  try {
    const out = execFileSync(
      "rabbitmqctl",
      ["list_queues", "name", "messages", "-q", "--no-table-headers"],
      {
        encoding: "utf8",
        timeout: 15_000,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    return out
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => {
        const [name, messages] = line.split("\t");
        return { name: name!, messages: Number(messages) };
      });
  } catch {
    return undefined;
  }
}

/** Queue names are `eventail.<stream>.<consumer>` (naming.ts). */
function ofStream(stream: string) {
  const prefix = `eventail.${stream}.`;
  return queues()
    ?.filter((q) => q.name.startsWith(prefix))
    .map((q) => ({ ...q, consumer: q.name.slice(prefix.length) }));
}

describeOrphans({
  kind: "rabbitmq",
  connection: () => (url ? { url } : undefined),
  consumers: async (stream) => ofStream(stream)?.map((q) => q.consumer),
  retained: async (stream) => ofStream(stream)?.reduce((sum, q) => sum + q.messages, 0),
  retainedWhenDone: 0,
  streamExists: async (stream) => {
    const channel = await admin!.createChannel();
    channel.on("error", () => undefined);
    try {
      await channel.checkExchange(exchangeName(stream));
      return true;
    } catch {
      return false;
    } finally {
      await channel.close().catch(() => undefined);
    }
  },
  forget: async (stream) => {
    const channel = await admin!.createChannel();
    channel.on("error", () => undefined);
    await channel.deleteExchange(exchangeName(stream)).catch(() => undefined);
    await channel.close().catch(() => undefined);
  },
});
