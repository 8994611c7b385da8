/**
 * A KafkaSource's `spec.net.tls` over a real socket: Eventail connects to its bootstrap server
 * with TLS, verifying the server against the `caCert` Secret value and presenting the client
 * certificate of the `cert`/`key` values. The peer here is a TLS server that records each
 * handshake (Kafka itself needs no TLS to be tested: the handshake happens before any Kafka byte).
 */
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { generate } from "selfsigned";
import { afterEach, describe, expect, it } from "vitest";
import { eventually, startWithManifests } from "../../support/sink.js";
import { makeTestCa, makeTestLeaf, type TestCa } from "../../support/test-certs.js";

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client certificate (extKeyUsage clientAuth) signed by `ca`. */
async function clientLeaf(ca: TestCa, commonName: string) {
  const day = 24 * 60 * 60 * 1000;
  const pems = await generate([{ name: "commonName", value: commonName }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate: new Date(Date.now() - day),
    notAfterDate: new Date(Date.now() + 30 * day),
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

interface Handshakes {
  readonly port: number;
  /** Each completed handshake: whether the client certificate verified, and its CN. */
  readonly secure: Array<{ authorized: boolean; client: string | undefined }>;
  /** Each handshake that failed, with OpenSSL's reason. */
  readonly failed: string[];
}

/** A TLS server that asks for a client certificate and records every handshake. */
async function tlsPeer(ca: TestCa): Promise<Handshakes> {
  const leaf = await makeTestLeaf(ca, "127.0.0.1");
  const secure: Handshakes["secure"] = [];
  const failed: string[] = [];
  const server = tls.createServer(
    { cert: leaf.cert, key: leaf.key, ca: [ca.cert], requestCert: true, rejectUnauthorized: false },
    (socket) => {
      const subject = socket.getPeerCertificate().subject as { CN?: string } | undefined;
      secure.push({ authorized: socket.authorized, client: subject?.CN });
      socket.destroy();
    },
  );
  server.on("tlsClientError", (error) => failed.push(error.message));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, secure, failed };
}

const indent = (pem: string) =>
  pem
    .trimEnd()
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");

function manifests(port: number, caCert: string, client: { cert: string; key: string }): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: kafka-tls
stringData:
  ca.crt: |
${indent(caCert)}
  tls.crt: |
${indent(client.cert)}
  tls.key: |
${indent(client.key)}
---
apiVersion: sources.knative.dev/v1
kind: KafkaSource
metadata:
  name: orders
spec:
  bootstrapServers: ["127.0.0.1:${port}"]
  topics: [orders]
  net:
    tls:
      enable: true
      caCert:
        secretKeyRef: { name: kafka-tls, key: ca.crt }
      cert:
        secretKeyRef: { name: kafka-tls, key: tls.crt }
      key:
        secretKeyRef: { name: kafka-tls, key: tls.key }
  sink:
    uri: http://127.0.0.1:9/
`;
}

async function run(yaml: string) {
  const running = await startWithManifests(yaml, { drainMs: 500 });
  cleanups.push(() => running.close());
  return running;
}

describe("KafkaSource spec.net.tls", () => {
  it("connects with TLS, verifying the broker against caCert and presenting the client certificate", async () => {
    const ca = await makeTestCa();
    const peer = await tlsPeer(ca);
    await run(manifests(peer.port, ca.cert, await clientLeaf(ca, "kafka-source-orders")));
    await eventually(() => peer.secure.length > 0, 20_000, "a TLS handshake");
    expect(peer.secure[0]).toEqual({ authorized: true, client: "kafka-source-orders" });
  });

  it("refuses a broker whose certificate caCert does not vouch for (verification is never skipped)", async () => {
    const ca = await makeTestCa();
    const other = await makeTestCa("Another CA");
    const peer = await tlsPeer(ca);
    await run(manifests(peer.port, other.cert, await clientLeaf(ca, "kafka-source-orders")));
    await eventually(() => peer.failed.length > 0, 20_000, "a refused handshake");
    expect(peer.secure).toEqual([]);
  });
});
