/**
 * The socket side of the HTTP surface (CONTRACT §10, slow or abusive clients): Node's HTTP or
 * HTTPS server with the limits set where Node enforces them, so nothing costs a timer or a
 * check per request beyond one comparison of the header count.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import type { Logger } from "../observability/logger.js";
import { errorBody, HttpError, logRejection } from "./errors.js";

export interface ConnectionLimits {
  /** The request line and headers must arrive within this; default 10 s. */
  readonly headerTimeoutMs: number;
  /** The whole request, body included, must arrive within this of its start; default 60 s. */
  readonly bodyTimeoutMs: number;
  /** Connections open at once; more are closed as they arrive. Default 10,000. */
  readonly maxConnections: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = Object.freeze({
  headerTimeoutMs: 10_000,
  bodyTimeoutMs: 60_000,
  maxConnections: 10_000,
});

export const MAX_HEADERS = 100;
export const MAX_HEADER_BYTES = 16 * 1024;

/** PEM text of the serving certificate (its chain may follow it) and its private key. */
export interface TlsMaterial {
  readonly cert: string;
  readonly key: string;
}

export interface ListenerOptions {
  readonly logger: Logger;
  readonly limits?: Partial<ConnectionLimits>;
  /** Serve HTTPS with this; replaceCertificate swaps it later. */
  readonly tls?: TlsMaterial;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * Node checks its header and request timeouts on one interval timer per server (default 30 s,
 * far coarser than a 10 s limit); a tenth of the shorter limit cuts a slow client close to it.
 */
function checkingIntervalMs(limits: ConnectionLimits): number {
  const shortest = Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs);
  return Math.min(1_000, Math.max(20, Math.floor(shortest / 10)));
}

/** An HTTP server, or HTTPS with `tls`, enforcing the limits; `listener` gets every request. */
export function createListener(listener: RequestListener, options: ListenerOptions): http.Server {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { logger } = options;
  // Node refuses a header timeout longer than the request timeout: the body limit counts from
  // the request's start, so headers can never have longer than it anyway.
  const headersTimeout = Math.min(limits.headerTimeoutMs, limits.bodyTimeoutMs);
  const serverOptions: http.ServerOptions = {
    maxHeaderSize: MAX_HEADER_BYTES,
    headersTimeout,
    requestTimeout: limits.bodyTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs(limits),
  };
  // Node's maxHeadersCount drops the headers past it without a word: keep one more than allowed
  // so that a request over the limit can be seen, and answered 431.
  const guarded: RequestListener = (request, response) => {
    if (request.rawHeaders.length > 2 * MAX_HEADERS) {
      tooManyHeaders(logger, request, response);
      return;
    }
    listener(request, response);
  };
  const server = options.tls
    ? (https.createServer(
        {
          ...serverOptions,
          cert: options.tls.cert,
          key: options.tls.key,
          // A client that opens a socket and never finishes the handshake is as slow as one that
          // never finishes its headers.
          handshakeTimeout: headersTimeout,
        },
        guarded,
      ) as unknown as http.Server)
    : http.createServer(serverOptions, guarded);
  server.maxHeadersCount = MAX_HEADERS + 1;
  server.maxConnections = limits.maxConnections;
  // What fastify sets on a server it creates itself.
  server.keepAliveTimeout = 72_000;
  return server;
}

/** New connections get `tls`; connections already open keep the certificate they began with. */
export function replaceCertificate(server: http.Server, tls: TlsMaterial): void {
  (server as unknown as https.Server).setSecureContext({ cert: tls.cert, key: tls.key });
}

function tooManyHeaders(logger: Logger, request: IncomingMessage, response: ServerResponse) {
  const error = new HttpError("HEADERS_TOO_LARGE", `more than ${MAX_HEADERS} request headers`, {
    connection: "close",
  });
  logRejection(logger, error, error, { url: request.url });
  const payload = JSON.stringify(errorBody(error.code, error.message));
  response
    .writeHead(error.statusCode, {
      ...error.headers,
      "content-type": JSON_CONTENT_TYPE,
      "content-length": String(Buffer.byteLength(payload)),
    })
    .end(payload);
}

const CLIENT_ERRORS: Readonly<Record<string, HttpError>> = {
  ERR_HTTP_REQUEST_TIMEOUT: new HttpError(
    "REQUEST_TIMEOUT",
    "the request did not arrive in time; connection closed",
  ),
  HPE_HEADER_OVERFLOW: new HttpError(
    "HEADERS_TOO_LARGE",
    `request headers over ${MAX_HEADER_BYTES} bytes; connection closed`,
  ),
};

/**
 * What a client gets when Node's parser gives up on its request (timeout, header overflow,
 * malformed HTTP): the catalogue's status and body, one log line, and the socket closed.
 */
export function clientErrorAnswer(logger: Logger) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    if (error.code === "ECONNRESET" || socket.destroyed) return;
    const httpError =
      CLIENT_ERRORS[error.code ?? ""] ??
      new HttpError("MALFORMED_REQUEST", "malformed HTTP request; connection closed");
    logRejection(logger, error, httpError, {
      remote: socket.remoteAddress,
      parserError: error.code,
    });
    if (socket.writable) {
      const payload = JSON.stringify(errorBody(httpError.code, httpError.message));
      socket.write(
        `HTTP/1.1 ${httpError.statusCode} ${http.STATUS_CODES[httpError.statusCode]}\r\n` +
          `content-type: ${JSON_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(payload)}\r\n` +
          `connection: close\r\n\r\n${payload}`,
      );
    }
    socket.destroy();
  };
}
