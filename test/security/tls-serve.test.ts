import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { brokerYaml, type RecordingSink, startSink, startWithManifests } from "../support/sink.js";
import { makeTestCa, makeTestLeaf, type TestCa, type TestLeaf } from "../support/test-certs.js";
import {
  eventRequestParts,
  postEvent,
  replaceFile,
  TlsClient,
  waitUntil,
  writePairFiles,
} from "./tls-harness.js";

/**
 * --tls-cert/--tls-key (CONTRACT §10): HTTPS on the same port, addresses in https://, and a
 * certificate replaced on disk taken without a restart, with connections already open unharmed.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let ca: TestCa;
let first: TestLeaf;
let second: TestLeaf;
beforeAll(async () => {
  ca = await makeTestCa();
  first = await makeTestLeaf(ca, "first");
  second = await makeTestLeaf(ca, "second");
});

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function sink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

const BACK_ROUTE = `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: to-back
  namespace: default
spec:
  broker: default
  subscriber:
    ref: { apiVersion: eventing.knative.dev/v1, kind: Broker, name: back }
`;

function backTrigger(subscriber: string): string {
  return `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: from-back
  namespace: default
spec:
  broker: back
  subscriber:
    uri: ${subscriber}
`;
}

describe("eventail run --tls-cert --tls-key", () => {
  it("serves HTTPS, names itself https://, and delivers to its own https address verifying its own certificate", async () => {
    const files = writePairFiles(first, ca);
    const subscriber = await sink();
    const { logger, lines } = capture();
    const running = await startWithManifests(
      `${brokerYaml()}---\n${brokerYaml("back")}${BACK_ROUTE}${backTrigger(subscriber.url)}`,
      { tls: { certFile: files.certFile, keyFile: files.keyFile }, logger },
    );
    cleanups.push(() => running.close());
    expect(running.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const serving = lines.find((line) => line["msg"] === "eventail is serving");
    expect(serving?.["url"]).toBe(running.url);
    expect(
      lines.find((line) => String(line["msg"]).startsWith("Server listening at"))?.["msg"],
    ).toContain("https://");
    expect(await postEvent(`${running.url}/default/default`, ca.cert, "over-tls")).toBe(202);
    // default → to-back → https://…/default/back (Eventail itself) → from-back → subscriber.
    await subscriber.waitFor(1);
    expect(subscriber.events[0]?.attributes["id"]).toBe("over-tls");
  });

  it("takes a replaced certificate without a restart: new connections see it, a request in flight on an old connection completes", async () => {
    const files = writePairFiles(first, ca);
    const { logger, lines } = capture();
    const running = await startWithManifests(brokerYaml(), {
      tls: { certFile: files.certFile, keyFile: files.keyFile },
      logger,
      watch: true,
    });
    cleanups.push(() => running.close());
    const port = Number(new URL(running.url).port);

    const old = await TlsClient.connect(port, ca.cert);
    cleanups.push(() => old.close());
    expect(old.fingerprint256).toBe(first.fingerprint256);
    // One request completes, then a second is left half-sent across the swap.
    const [head1, body1] = eventRequestParts("/default/default", "before-swap");
    old.write(head1 + body1);
    expect(await old.response(0)).toBe(202);
    const mark = old.received.length;
    const [head2, body2] = eventRequestParts("/default/default", "across-swap");
    old.write(head2);

    writePairFiles(second, ca, files.dir);
    let fresh: TlsClient | undefined;
    await waitUntil(async () => {
      fresh?.close();
      fresh = await TlsClient.connect(port, ca.cert);
      return fresh.fingerprint256 === second.fingerprint256;
    }, "a new connection to present the second certificate");
    cleanups.push(() => fresh?.close());
    expect(fresh!.serialNumber).toBe(second.serialNumber);
    expect(lines).toContainEqual(
      expect.objectContaining({
        msg: "TLS certificate reloaded",
        serialNumber: second.serialNumber,
      }),
    );

    old.write(body2);
    expect(await old.response(mark)).toBe(202);
    expect(old.fingerprint256).toBe(first.fingerprint256);
    expect(await postEvent(`${running.url}/default/default`, ca.cert, "after-swap")).toBe(202);
  });

  it("keeps the current certificate while the files do not form a pair, and takes them once they do", async () => {
    const files = writePairFiles(first, ca);
    const { logger, lines } = capture();
    const running = await startWithManifests(brokerYaml(), {
      tls: { certFile: files.certFile, keyFile: files.keyFile },
      logger,
      watch: true,
    });
    cleanups.push(() => running.close());
    const port = Number(new URL(running.url).port);

    // A new certificate whose key has not been written yet.
    replaceFile(files.certFile, second.cert + ca.cert);
    await waitUntil(
      () =>
        lines.some((line) => String(line["msg"]).startsWith("TLS files changed but cannot serve")),
      "the refusal of a mismatched pair to be logged",
    );
    const during = await TlsClient.connect(port, ca.cert);
    expect(during.fingerprint256).toBe(first.fingerprint256);
    during.close();
    const refusal = lines.find((line) => String(line["msg"]).startsWith("TLS files changed"));
    expect(JSON.stringify(refusal)).not.toContain(second.key.split("\n")[1]!.slice(0, 20));

    replaceFile(files.keyFile, second.key);
    await waitUntil(async () => {
      const client = await TlsClient.connect(port, ca.cert);
      const seen = client.fingerprint256;
      client.close();
      return seen === second.fingerprint256;
    }, "the completed pair to be served");
  });

  it.each([
    [
      "a key that does not match the certificate",
      (f: TestLeaf, s: TestLeaf) => [f.cert, s.key],
      "cannot serve together",
    ],
    [
      "a certificate file holding no certificate",
      (f: TestLeaf) => ["nothing here", f.key],
      "not a PEM certificate",
    ],
  ])("refuses to start with %s, naming the flag", async (_name, pick, fragment) => {
    const [cert, key] = pick(first, second);
    const files = writePairFiles(first, ca);
    replaceFile(files.certFile, cert!);
    replaceFile(files.keyFile, key!);
    await expect(
      startWithManifests(brokerYaml(), {
        tls: { certFile: files.certFile, keyFile: files.keyFile },
      }),
    ).rejects.toThrow(new RegExp(`--tls-cert ${files.certFile}.*${fragment}`));
  });
});
