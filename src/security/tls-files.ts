/**
 * `--tls-cert` and `--tls-key`: read, checked to form a pair, and re-read when either changes
 * (cert-manager, a mounted Kubernetes Secret or an ACME client replaces them in place) so the
 * server takes the new certificate with no restart. A half-written pair is not applied: the
 * running certificate stays until the files agree again.
 */
import { X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import path from "node:path";
import { createSecureContext } from "node:tls";
import type { Logger } from "../observability/logger.js";

export interface TlsPair {
  /** PEM: the serving certificate, then any chain. */
  readonly cert: string;
  /** PEM private key. Never logged. */
  readonly key: string;
}

/** Why the files cannot serve; the message names the flag and the file, never their content. */
export class TlsFilesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsFilesError";
  }
}

/** What a log line may say about a certificate. */
export function certificateFields(cert: string): Record<string, string> {
  const x509 = new X509Certificate(cert);
  return {
    subject: x509.subject.replaceAll("\n", ", "),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
    validTo: new Date(x509.validTo).toISOString(),
  };
}

function readPair(certFile: string, keyFile: string): TlsPair {
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (error) {
      throw new TlsFilesError(`${flag} ${file}: ${(error as Error).message}`);
    }
  };
  const cert = read(certFile, "--tls-cert");
  const key = read(keyFile, "--tls-key");
  try {
    new X509Certificate(cert);
  } catch {
    throw new TlsFilesError(`--tls-cert ${certFile}: not a PEM certificate`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    // OpenSSL's reason (key values mismatch, unsupported key) quotes neither file.
    throw new TlsFilesError(
      `--tls-cert ${certFile} and --tls-key ${keyFile} cannot serve together: ${(error as Error).message}`,
    );
  }
  return { cert, key };
}

export class TlsFiles {
  private pair: TlsPair;

  private constructor(
    readonly certFile: string,
    readonly keyFile: string,
  ) {
    this.pair = readPair(certFile, keyFile);
  }

  /** Reads both files now; throws TlsFilesError when they cannot serve. */
  static load(certFile: string, keyFile: string): TlsFiles {
    return new TlsFiles(certFile, keyFile);
  }

  get current(): TlsPair {
    return this.pair;
  }

  /**
   * Reads the files again: true when they now hold a different valid pair (which becomes
   * current), false when nothing changed; throws TlsFilesError when they cannot serve.
   */
  reread(): boolean {
    const next = readPair(this.certFile, this.keyFile);
    if (next.cert === this.pair.cert && next.key === this.pair.key) return false;
    this.pair = next;
    return true;
  }

  /**
   * Calls `onChange` with each new valid pair. The folders are watched rather than the files:
   * tools replace a certificate by renaming a new file (or a symlink, for mounted Secrets) over
   * the old one, which a watch on the file itself would not follow.
   */
  watch(onChange: (pair: TlsPair) => void, logger: Logger, debounceMs = 100): { close(): void } {
    let timer: NodeJS.Timeout | undefined;
    let closed = false;
    const check = () => {
      timer = undefined;
      if (closed) return;
      try {
        if (!this.reread()) return;
      } catch (error) {
        logger.warn(
          { reason: (error as Error).message },
          "TLS files changed but cannot serve yet; keeping the current certificate",
        );
        return;
      }
      logger.info(certificateFields(this.pair.cert), "TLS certificate reloaded");
      onChange(this.pair);
    };
    const schedule = () => {
      if (closed) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(check, debounceMs);
    };
    const folders = new Set([path.dirname(this.certFile), path.dirname(this.keyFile)]);
    const watchers: FSWatcher[] = [];
    for (const folder of folders) {
      try {
        const watcher = watch(folder, schedule);
        watcher.on("error", (error) =>
          logger.warn(
            { folder, err: error },
            "watching the TLS files failed; SIGHUP re-reads them",
          ),
        );
        watchers.push(watcher);
      } catch (error) {
        logger.warn({ folder, err: error }, "cannot watch the TLS files; SIGHUP re-reads them");
      }
    }
    return {
      close: () => {
        closed = true;
        if (timer) clearTimeout(timer);
        for (const watcher of watchers) watcher.close();
      },
    };
  }
}
