/**
 * `eventail send`: one CloudEvent, then the status line and any reply event.
 *
 * The cloudevents SDK builds the event's attributes: it fills `id` and `time` and validates them
 * against the CloudEvents JSON schema, so the CLI checks what every SDK user's producer checks.
 * The data stays the bytes the user gave (JSON is only checked, not re-serialized, so numbers and
 * layout arrive as written), and the event goes out through the Dispatcher's `send()`, the one
 * HTTP path of Eventail (its pool, timeout and reply decoding), whose binding the SDK accepts
 * (test/events/http-binding-sdk.test.ts).
 */
import { readFileSync } from "node:fs";
import { CloudEvent as SdkCloudEvent, ValidationError } from "cloudevents";
import { Dispatcher, type SendResult } from "../delivery/dispatcher.js";
import {
  type AttributeValue,
  type CloudEvent,
  createEvent,
  EventValidationError,
  validateEvent,
} from "../events/event.js";
import { encodeStructured, isJsonContentType } from "../events/json-format.js";
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
  /** A bearer token for an address where authentication is on (CONTRACT §10). */
  token?: string;
}

/** Bad input: a one-line message naming the flag, exit 2 (CONTRACT §1). */
class UsageError extends Error {}

export async function sendCommand(url: string, options: SendOptions): Promise<number> {
  let event: CloudEvent;
  let mode: "binary" | "structured";
  try {
    mode = sendMode(options.mode);
    event = buildEvent(options);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`eventail send: ${error.message}\n`);
    return 2;
  }
  const dispatcher = new Dispatcher({ metrics: new Metrics(), logger: silentLogger() });
  let response: SendResult;
  try {
    response = await dispatcher.send(event, url, {
      format: mode === "structured" ? "json" : "binary",
      ...(options.token ? { headers: { authorization: `Bearer ${options.token}` } } : {}),
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

function sendMode(mode = "binary"): "binary" | "structured" {
  if (mode === "binary" || mode === "structured") return mode;
  throw new UsageError(`--mode must be binary or structured, not ${mode}`);
}

function buildEvent(options: SendOptions): CloudEvent {
  if (options.data !== undefined && options.dataFile !== undefined) {
    throw new UsageError("give --data or --data-file, not both");
  }
  const data = readData(options);
  const contentType = options.contentType ?? (data !== undefined ? "application/json" : undefined);
  if (data !== undefined && isJsonContentType(contentType)) {
    const flag = options.data !== undefined ? "--data" : `--data-file ${options.dataFile}`;
    try {
      JSON.parse(data.toString("utf8"));
    } catch (error) {
      throw new UsageError(
        `${flag} is not JSON (${(error as Error).message}); send JSON, or set --content-type`,
      );
    }
  }
  // The SDK would replace an empty id with a random one; an explicit --id must be kept or refused.
  if (options.id === "") throw new UsageError("--id must not be empty");
  const extensions: Record<string, string> = {};
  for (const pair of options.extension ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new UsageError(`--extension must be key=value, not ${pair}`);
    extensions[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const attributes = sdkAttributes({
    ...extensions,
    specversion: "1.0",
    id: options.id,
    source: options.source,
    type: options.type,
    datacontenttype: contentType,
  });
  const event = createEvent(attributes, data);
  try {
    validateEvent(event);
  } catch (error) {
    if (error instanceof EventValidationError) throw new UsageError(error.message);
    throw error;
  }
  return event;
}

const READ_ERRORS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
};

function readData(options: SendOptions): Buffer | undefined {
  if (options.data !== undefined) return Buffer.from(options.data, "utf8");
  if (options.dataFile === undefined) return undefined;
  try {
    return readFileSync(options.dataFile);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const reason = READ_ERRORS[code] ?? (error as Error).message;
    throw new UsageError(`--data-file ${options.dataFile}: cannot read it (${reason})`);
  }
}

/** The SDK's validated attributes (with its defaults for id and time), as Eventail attributes. */
function sdkAttributes(input: Record<string, string | undefined>): Record<string, AttributeValue> {
  let built: SdkCloudEvent;
  try {
    built = new SdkCloudEvent(input);
  } catch (error) {
    if (error instanceof ValidationError || error instanceof TypeError) {
      throw new UsageError(sdkProblem(error, Object.keys(input)));
    }
    throw error;
  }
  const attributes: Record<string, AttributeValue> = {};
  for (const [name, value] of Object.entries(built.toJSON())) {
    if (name === "data" || name === "data_base64" || value === undefined) continue;
    attributes[name] = value as AttributeValue;
  }
  return attributes;
}

const FLAGS: Record<string, string> = {
  id: "--id",
  source: "--source",
  type: "--type",
  datacontenttype: "--content-type",
};

/** The SDK's first complaint, on one line, naming the flag that set the attribute. */
function sdkProblem(error: Error, names: string[]): string {
  const first = (error as ValidationError).errors?.[0] as
    | { instancePath?: string; message?: string }
    | undefined;
  if (first?.instancePath !== undefined) {
    const name = first.instancePath.replace(/^\//, "");
    return `${FLAGS[name] ?? `--extension ${name}`}: ${first.message ?? "invalid"}`;
  }
  const line = error.message.split("\n", 1)[0]!;
  const named = names.find((name) => line.includes(name) && !(name in FLAGS));
  return named !== undefined && /extension/.test(line) ? `--extension ${named}: ${line}` : line;
}
