import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { parseCaCerts } from "../../src/resources/ca-certs.js";
import { makeTestCa, makeTestLeaf, type TestCa } from "../support/test-certs.js";
import { expectIssue, issuesWith, trigger } from "./validate-harness.js";

let ca: TestCa;
let other: TestCa;
beforeAll(async () => {
  ca = await makeTestCa("CA one");
  other = await makeTestCa("CA two");
});

function indent(text: string, spaces: number): string {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => " ".repeat(spaces) + line)
    .join("\n");
}

describe("parseCaCerts (a Destination's CACerts)", () => {
  it.each([
    ["one certificate", () => ca.cert, 1],
    ["two certificates back to back", () => ca.cert + other.cert, 2],
    [
      "comments between blocks, as in CA bundle files",
      () => `# one\n${ca.cert}\n# two\n${other.cert}`,
      2,
    ],
    ["CRLF line ends", () => ca.cert.replaceAll("\n", "\r\n"), 1],
  ])("accepts %s", (_name, text, count) => {
    const parsed = parseCaCerts(text());
    expect(parsed).toHaveProperty("certs");
    expect((parsed as { certs: string[] }).certs).toHaveLength(count);
  });

  it.each([
    ["empty text", () => "", "holds no PEM certificate"],
    ["text without any block", () => "not a certificate", "holds no PEM certificate"],
    ["a private key", () => ca.key, "private key, not a certificate"],
    ["a certificate followed by its key", () => ca.cert + ca.key, "block 2 is a private key"],
    [
      "a block whose base64 is damaged",
      () => ca.cert.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!"),
      "not a valid PEM X.509 certificate",
    ],
    [
      "a BEGIN line with no END line",
      () => `${ca.cert}-----BEGIN CERTIFICATE-----\nMIIB\n`,
      "no matching END",
    ],
    [
      "a public key",
      () => "-----BEGIN PUBLIC KEY-----\nMFk=\n-----END PUBLIC KEY-----\n",
      "is a PUBLIC KEY",
    ],
  ])("refuses %s", (_name, text, fragment) => {
    const parsed = parseCaCerts(text());
    expect(parsed).toEqual({ error: expect.stringContaining(fragment) });
  });

  it("never quotes the text it refuses (a pasted key must not reach a log)", () => {
    const parsed = parseCaCerts(ca.cert + ca.key);
    const keyBody = ca.key.split("\n")[1]!;
    expect(JSON.stringify(parsed)).not.toContain(keyBody.slice(0, 16));
  });

  it("never throws and always answers certs or an error, whatever the text (fuzz)", () => {
    const pieces = fc.oneof(
      fc.string(),
      fc.constantFrom(
        "-----BEGIN CERTIFICATE-----",
        "-----END CERTIFICATE-----",
        "-----BEGIN PRIVATE KEY-----",
        "\n",
        "MIIB",
      ),
      fc.constant(ca.cert),
      fc.constant(ca.cert.slice(0, 200)),
    );
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 8 }), (parts) => {
        const parsed = parseCaCerts(parts.join(""));
        if ("certs" in parsed) expect(parsed.certs.length).toBeGreaterThan(0);
        else expect(parsed.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe("validation of CACerts in manifests", () => {
  it.each([
    ["spec.subscriber.CACerts", "subscriber"],
    ["spec.delivery.deadLetterSink.CACerts", "delivery"],
  ])("a broken bundle at %s is one issue at that path", async (path, where) => {
    const bad = indent("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", 6);
    const spec =
      where === "subscriber"
        ? `  subscriber:\n    uri: https://127.0.0.1:9/\n    CACerts: |\n${bad}\n`
        : `  delivery:\n    deadLetterSink:\n      uri: https://127.0.0.1:9/\n      CACerts: |\n${indent("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", 8)}\n`;
    await expectIssue(trigger(spec), path, "not a valid PEM X.509 certificate");
  });

  it("a valid bundle is no issue", async () => {
    const leaf = await makeTestLeaf(ca);
    const spec = `  subscriber:\n    uri: https://127.0.0.1:9/\n    CACerts: |\n${indent(ca.cert + leaf.cert, 6)}\n`;
    const issues = await issuesWith(trigger(spec));
    expect(issues).toEqual([]);
  });
});
