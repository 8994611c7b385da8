import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "undici";
import {
  type AttributeValue,
  createEvent,
  EventValidationError,
  validateEvent,
} from "../events/event.js";
import { decodeHttpResponse, encodeHttpRequest } from "../events/http-binding.js";
import { encodeStructured } from "../events/json-format.js";

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
  const encoded = encodeHttpRequest(event, mode);
  let response: Awaited<ReturnType<typeof request>>;
  try {
    // reset: one request, so close the connection instead of keeping the process alive for it.
    response = await request(url, {
      method: "POST",
      headers: encoded.headers,
      body: encoded.body ?? null,
      reset: true,
    });
  } catch (error) {
    process.stderr.write(`eventail send: ${(error as Error).message}\n`);
    return 1;
  }
  const body = Buffer.from(await response.body.arrayBuffer());
  process.stdout.write(`${response.statusCode}\n`);
  const reply = decodeHttpResponse(response.statusCode, response.headers, body);
  if (reply.event) process.stdout.write(`${encodeStructured(reply.event)}\n`);
  else if (body.length > 0 && response.statusCode >= 400)
    process.stdout.write(`${body.toString("utf8")}\n`);
  return response.statusCode >= 200 && response.statusCode < 300 ? 0 : 1;
}
