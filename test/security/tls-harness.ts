/** Shared by the TLS tests: certificate files on disk, HTTPS clients that trust a test CA. */
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import tls from "node:tls";
import { Agent, request } from "undici";
import type { CloudEvent } from "../../src/events/event.js";
import { decodeHttpRequest } from "../../src/events/http-binding.js";
import type { TestCa, TestLeaf } from "../support/test-certs.js";

export const EVENT_HEADERS: Readonly<Record<string, string>> = {
  "ce-specversion": "1.0",
  "ce-source": "/tls-test",
  "ce-type": "dev.example.tls",
  "content-type": "application/json",
};

export interface PairFiles {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Writes the pair as a server would be given it: the leaf, then the CA (a full chain). */
export function writePairFiles(leaf: TestLeaf, ca: TestCa, dir?: string): PairFiles {
  const folder = dir ?? mkdtempSync(path.join(tmpdir(), "eventail-tls-"));
  const certFile = path.join(folder, "tls.crt");
  const keyFile = path.join(folder, "tls.key");
  replaceFile(certFile, leaf.cert + ca.cert);
  replaceFile(keyFile, leaf.key);
  return { dir: folder, certFile, keyFile };
}

/** Writes beside and renames over, as cert-manager and ACME clients do. */
export function replaceFile(file: string, text: string): void {
  const next = `${file}.next`;
  writeFileSync(next, text, { mode: 0o600 });
  renameSync(next, file);
}

/** POSTs one event with undici, trusting `ca` (for an https URL). */
export async function postEvent(
  url: string,
  ca: string | undefined,
  id: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const dispatcher = new Agent(ca === undefined ? {} : { connect: { ca } });
  try {
    const response = await request(url, {
      method: "POST",
      headers: { ...EVENT_HEADERS, "ce-id": id, ...headers },
      body: "{}",
      dispatcher,
    });
    await response.body.dump();
    return response.statusCode;
  } finally {
    await dispatcher.close();
  }
}

/** A TLS connection that trusts `ca`, for requests written by hand on one kept-alive socket. */
export class TlsClient {
  received = "";
  closed = false;
  private constructor(readonly socket: tls.TLSSocket) {
    socket.on("data", (chunk: Buffer) => {
      this.received += chunk.toString("latin1");
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", () => {});
  }

  static connect(port: number, ca: string): Promise<TlsClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca }, () =>
        resolve(new TlsClient(socket)),
      );
      socket.once("error", reject);
    });
  }

  /** The SHA-256 fingerprint of the certificate the server presented on this connection. */
  get fingerprint256(): string {
    return this.socket.getPeerCertificate().fingerprint256;
  }

  get serialNumber(): string {
    return this.socket.getPeerCertificate().serialNumber;
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Waits for the next complete response after `from` characters; its status, or 0 if closed. */
  async response(from: number): Promise<number> {
    for (;;) {
      const answer = this.received.slice(from);
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(answer);
      const length = /content-length: (\d+)/i.exec(answer);
      const head = answer.indexOf("\r\n\r\n");
      if (status && length && head >= 0 && answer.length >= head + 4 + Number(length[1])) {
        return Number(status[1]);
      }
      if (this.closed) return 0;
      await sleep(10);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The raw text of one binary-mode event POST, split where its body starts. */
export function eventRequestParts(pathname: string, id: string, body = "{}"): [string, string] {
  const head = [
    `POST ${pathname} HTTP/1.1`,
    "host: 127.0.0.1",
    ...Object.entries({ ...EVENT_HEADERS, "ce-id": id }).map(([k, v]) => `${k}: ${v}`),
    `content-length: ${Buffer.byteLength(body)}`,
    "",
    "",
  ].join("\r\n");
  return [head, body];
}

/** An HTTPS subscriber with a certificate of a test CA; records the events it gets. */
export class HttpsSink {
  readonly events: CloudEvent[] = [];
  url = "";
  private server?: https.Server;

  async start(leaf: TestLeaf): Promise<this> {
    this.server = https.createServer({ cert: leaf.cert, key: leaf.key }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const event = decodeHttpRequest(req.headers, Buffer.concat(chunks)).events[0];
        if (event) this.events.push(event);
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
    return this;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/** Polls until `condition` holds; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Indents PEM text for a YAML block scalar. */
export function yamlBlock(text: string, spaces: number): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");
}
