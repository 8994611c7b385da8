import { connect, type NatsConnection } from "nats";
import { afterAll, beforeAll } from "vitest";
import { jetStreamName } from "../../src/backing/nats/naming.js";
import { serviceUrl } from "../support/services.js";
import { describeOrphans } from "./orphans-suite.js";

const url = serviceUrl("nats");
let nc: NatsConnection | undefined;
beforeAll(async () => {
  if (url) nc = await connect({ servers: url.split(",") });
});
afterAll(() => nc?.close());

const STREAM_NOT_FOUND = 10059;

function notFound(error: unknown): boolean {
  return (error as { api_error?: { err_code?: number } }).api_error?.err_code === STREAM_NOT_FOUND;
}

describeOrphans({
  kind: "nats",
  connection: () => (url ? { url } : undefined),
  consumers: async (stream) => {
    const jsm = await nc!.jetstreamManager();
    try {
      const names: string[] = [];
      for await (const info of jsm.consumers.list(jetStreamName(stream))) names.push(info.name);
      // Durable names are the consumer names with dots flattened (naming.ts).
      return names.map((name) => name.replaceAll("_", "."));
    } catch (error) {
      if (notFound(error)) return [];
      throw error;
    }
  },
  retained: async (stream) => {
    const jsm = await nc!.jetstreamManager();
    return (await jsm.streams.info(jetStreamName(stream))).state.messages;
  },
  retainedWhenDone: 0,
  streamExists: async (stream) => {
    const jsm = await nc!.jetstreamManager();
    try {
      await jsm.streams.info(jetStreamName(stream));
      return true;
    } catch (error) {
      if (notFound(error)) return false;
      throw error;
    }
  },
  forget: async (stream) => {
    const jsm = await nc!.jetstreamManager();
    await jsm.streams.delete(jetStreamName(stream)).catch(() => undefined);
  },
});
