import http from "node:http";
import net, { type AddressInfo } from "node:net";
import type { CloudEvent } from "../../src/events/event.js";
import { decodeHttpRequest } from "../../src/events/http-binding.js";
import { decodeFromStorage, encodeForStorage } from "../../src/events/json-format.js";

/**
 * A real HTTP server on 127.0.0.1 that decodes every request with decodeHttpRequest and answers
 * with what it decoded, so binding tests go through node's own header and body handling.
 */

export type DecodeResult =
  | { ok: true; mode: string; events: CloudEvent[] }
  | { ok: false; name: string; message: string; field?: string; status?: number };

export interface BindingServer {
  url: string;
  /** Sends raw bytes on a fresh connection and returns what the server decoded. */
  sendRaw(request: string): Promise<DecodeResult>;
  /** Parses the JSON answer the server gave. */
  parse(body: string): DecodeResult;
  close(): Promise<void>;
}

function answer(headers: http.IncomingHttpHeaders, body: Buffer): string {
  try {
    const { mode, events } = decodeHttpRequest(headers, body);
    return JSON.stringify({ ok: true, mode, events: events.map(encodeForStorage) });
  } catch (error) {
    const { name, message, field, status } = error as Error & { field?: string; status?: number };
    return JSON.stringify({ ok: false, name, message, field, status });
  }
}

function parse(body: string): DecodeResult {
  const raw = JSON.parse(body) as { ok: boolean; events?: string[] } & Record<string, unknown>;
  if (!raw.ok) return raw as unknown as DecodeResult;
  return {
    ok: true,
    mode: String(raw["mode"]),
    events: raw.events!.map((e) => decodeFromStorage(e)),
  };
}

export async function startBindingServer(): Promise<BindingServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const text = answer(req.headers, Buffer.concat(chunks));
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const sendRaw = (request: string) =>
    new Promise<DecodeResult>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const body = text.slice(text.indexOf("\r\n\r\n") + 4);
        try {
          resolve(parse(body));
        } catch (error) {
          reject(new Error(`unexpected answer ${JSON.stringify(text)}: ${error}`));
        }
      });
      socket.end(request);
    });

  return {
    url: `http://127.0.0.1:${port}/`,
    sendRaw,
    parse,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
