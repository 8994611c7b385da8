/**
 * Certificates made at test time (no private key is ever committed): a CA, and leaves it signs
 * for 127.0.0.1 and localhost. Each call makes new keys, so two leaves differ in serial and
 * fingerprint.
 */
import { X509Certificate } from "node:crypto";
import { generate } from "selfsigned";

export interface TestCa {
  /** PEM of the CA certificate: what a client trusts (a destination's CACerts). */
  readonly cert: string;
  readonly key: string;
}

export interface TestLeaf {
  readonly cert: string;
  readonly key: string;
  /** Upper-case hex, as X509Certificate reports it. */
  readonly serialNumber: string;
  /** SHA-256 fingerprint, colon-separated upper-case hex. */
  readonly fingerprint256: string;
}

const DAY = 24 * 60 * 60 * 1000;

/** PEM as files hold it, ending with a newline, so that concatenated PEMs stay valid. */
function asFile(pem: string): string {
  return `${pem.trimEnd()}\n`;
}

function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  // A little in the past: a clock that disagrees by seconds must not make the leaf "not yet valid".
  const now = Date.now();
  return { notBeforeDate: new Date(now - DAY), notAfterDate: new Date(now + 30 * DAY) };
}

export async function makeTestCa(name = "Eventail Test CA"): Promise<TestCa> {
  const pems = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    algorithm: "sha256",
    ...validity(),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      {
        name: "keyUsage",
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
  return { cert: asFile(pems.cert), key: asFile(pems.private) };
}

/** A server certificate for 127.0.0.1, ::1 and localhost, signed by `ca`. */
export async function makeTestLeaf(ca: TestCa, commonName = "localhost"): Promise<TestLeaf> {
  const pems = await generate([{ name: "commonName", value: commonName }], {
    keyType: "ec",
    algorithm: "sha256",
    ...validity(),
    ca: { cert: ca.cert, key: ca.key },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  const x509 = new X509Certificate(pems.cert);
  return {
    cert: asFile(pems.cert),
    key: asFile(pems.private),
    serialNumber: x509.serialNumber,
    fingerprint256: x509.fingerprint256,
  };
}
