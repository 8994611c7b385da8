import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { Dispatcher, type SendResult } from "../delivery/dispatcher.js";
import {
  type AttributeValue,
  createEvent,
  EventValidationError,
  validateEvent,
} from "../events/event.js";
import { encodeStructured } from "../events/json-format.js";
import { silentLogger } from "../observability/logger.js";
import { Metrics } from "../observability/metrics.js";

export interface SendOptions {
  type: string;
  source: string;
  id?: string;
  data?: string;
  dataFile?: string;
  contentType?: string;
  mode?: string;
  extension?: string[];
}

/** `eventail send`: one CloudEvent, then the status line and any reply event. */
export async function sendCommand(url: string, options: SendOptions): Promise<number> {
  const mode = options.mode ?? "binary";
  if (mode !== "binary" && mode !== "structured") {
    process.stderr.write(`eventail send: --mode must be binary or structured, not ${mode}\n`);
    return 2;
  }
  const attributes: Record<string, AttributeValue> = {
    specversion: "1.0",
    id: options.id ?? randomUUID(),
    source: options.source,
    type: options.type,
  };
  let data: Buffer | undefined;
  if (options.data !== undefined && options.dataFile !== undefined) {
    process.stderr.write("eventail send: give --data or --data-file, not both\n");
    return 2;
  }
  if (options.data !== undefined) data = Buffer.from(options.data, "utf8");
  if (options.dataFile !== undefined) data = readFileSync(options.dataFile);
  if (options.contentType !== undefined) attributes["datacontenttype"] = options.contentType;
  else if (data !== undefined) attributes["datacontenttype"] = "application/json";
  for (const pair of options.extension ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      process.stderr.write(`eventail send: --extension must be key=value, got ${pair}\n`);
      return 2;
    }
    attributes[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const event = createEvent(attributes, data);
  try {
    validateEvent(event);
  } catch (error) {
    if (error instanceof EventValidationError) {
      process.stderr.write(`eventail send: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  // One attempt through the Dispatcher, as every HTTP delivery of Eventail: the same encoding
  // and the same reply rule as a trigger's delivery.
  const dispatcher = new Dispatcher({ metrics: new Metrics(), logger: silentLogger() });
  let response: SendResult;
  try {
    response = await dispatcher.send(event, url, {
      format: mode === "structured" ? "json" : "binary",
    });
  } catch (error) {
    process.stderr.write(`eventail send: ${(error as Error).message}\n`);
    return 1;
  } finally {
    await dispatcher.close();
  }
  process.stdout.write(`${response.status}\n`);
  if (response.reply) process.stdout.write(`${encodeStructured(response.reply)}\n`);
  else if (response.body.length > 0 && response.status >= 400)
    process.stdout.write(`${response.body.toString("utf8")}\n`);
  return response.status >= 200 && response.status < 300 ? 0 : 1;
}
