import type { CloudEvent } from "../events/event.js";
import type { SinkTarget } from "../events/ingress-target.js";

/**
 * IntegrationSink with `spec.log`: prints one line per event on stdout with its id, type, source
 * and data — the quickest way to see events flow.
 */
export class LogSink implements SinkTarget {
  constructor(
    readonly namespace: string,
    readonly name: string,
    private readonly out: { write(line: string): unknown } = process.stdout,
  ) {}

  async receive(event: CloudEvent): Promise<undefined> {
    const a = event.attributes;
    const data = event.data === undefined ? "" : printable(event.data);
    this.out.write(
      `[${this.namespace}/${this.name}] id=${a["id"]} type=${a["type"]} source=${a["source"]} data=${data}\n`,
    );
    return undefined;
  }
}

function printable(data: Buffer): string {
  const text = data.toString("utf8");
  // Binary payloads are shown as base64 so the line stays one line and readable.
  return Buffer.byteLength(text) === data.length && !hasControlCharacters(text)
    ? text.replace(/\n/g, "\\n")
    : `base64:${data.toString("base64")}`;
}

function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) return true;
  }
  return false;
}
