import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { expectIssue, issuesWith } from "../resources/validate-harness.js";
import { EVENTAIL_CLI, eventailBuilt, sumSeries } from "../support/eventail-process.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
  triggerYaml,
} from "../support/sink.js";
import { makeTestCa, makeTestLeaf, type TestCa, type TestLeaf } from "../support/test-certs.js";
import { HttpsSink, postEvent, writePairFiles, yamlBlock } from "./tls-harness.js";

/**
 * config-features `transport-encryption` (CONTRACT §10): strict needs TLS to start and refuses
 * http:// destinations without retrying them; permissive and disabled deliver to both.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let ca: TestCa;
let serving: TestLeaf;
beforeAll(async () => {
  ca = await makeTestCa();
  serving = await makeTestLeaf(ca, "eventail");
});

function features(mode: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: config-features
  namespace: knative-eventing
data:
  transport-encryption: ${JSON.stringify(mode)}
---
`;
}

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

async function httpSink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

async function httpsSink(): Promise<HttpsSink> {
  const started = await new HttpsSink().start(serving);
  cleanups.push(() => started.close());
  return started;
}

/** A Trigger retried 3 times whose dead letters go to an https sink trusted by CACerts. */
function retriedTrigger(name: string, subscriber: string, deadLetter: string, type: string) {
  return triggerYaml(
    name,
    subscriber,
    `  filter:\n    attributes:\n      type: ${type}`,
    `  delivery:
    retry: 3
    backoffDelay: PT0.01S
    deadLetterSink:
      uri: ${deadLetter}
      CACerts: |
${yamlBlock(ca.cert, 8)}`,
  );
}

describe("transport-encryption: strict", () => {
  it("refuses to start without --tls-cert/--tls-key, saying why", async () => {
    await expect(startWithManifests(features("strict") + brokerYaml())).rejects.toThrow(
      /transport-encryption: strict.*--tls-cert and --tls-key/,
    );
  });

  it.skipIf(!eventailBuilt())("eventail run exits 1 with that message", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "eventail-strict-"));
    writeFileSync(path.join(dir, "m.yaml"), features("strict") + brokerYaml());
    const child = spawn(process.execPath, [EVENTAIL_CLI, "run", "-f", dir, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toMatch(/^eventail: config-features .*transport-encryption: strict.*--tls-cert/);
  });

  it("refuses an http:// subscriber at once (no retry), logs why and dead-letters; an https one is delivered", async () => {
    const files = writePairFiles(serving, ca);
    const plain = await httpSink();
    const secure = await httpsSink();
    const deadLetters = await httpsSink();
    const { logger, lines } = capture();
    const running = await startWithManifests(
      features("strict") +
        brokerYaml() +
        retriedTrigger("plain", plain.url, deadLetters.url, "to.plain") +
        triggerYaml(
          "secure",
          secure.url,
          "  filter:\n    attributes:\n      type: to.secure",
          `  delivery:\n    retry: 0`,
        ).replace(
          `uri: ${secure.url}`,
          `uri: ${secure.url}\n    CACerts: |\n${yamlBlock(ca.cert, 6)}`,
        ),
      { tls: { certFile: files.certFile, keyFile: files.keyFile }, logger },
    );
    cleanups.push(() => running.close());
    const url = `${running.url}/default/default`;
    expect(await postEvent(url, ca.cert, "p1", { "ce-type": "to.plain" })).toBe(202);
    expect(await postEvent(url, ca.cert, "s1", { "ce-type": "to.secure" })).toBe(202);

    await eventually(() => deadLetters.events.length === 1, 10_000, "the dead letter");
    await eventually(() => secure.events.length === 1, 10_000, "the https delivery");
    expect(plain.requests).toHaveLength(0);
    expect(deadLetters.events[0]?.attributes["id"]).toBe("p1");
    expect(deadLetters.events[0]?.attributes["knativeerrordest"]).toBe(plain.url);
    const metrics = await running.metrics.registry.metrics();
    expect(sumSeries(metrics, "eventail_delivery_attempts_total", { trigger: "plain" })).toBe(1);
    expect(lines).toContainEqual(
      expect.objectContaining({
        url: plain.url,
        msg: expect.stringContaining("transport-encryption is strict: refusing to deliver"),
      }),
    );
  });

  it("a reload that turns strict on without TLS is refused and the running config kept", async () => {
    const plain = await httpSink();
    const { logger, lines } = capture();
    const running = await startWithManifests(brokerYaml(), { logger });
    cleanups.push(() => running.close());
    writeFileSync(
      running.file,
      features("strict") + brokerYaml() + triggerYaml("added", plain.url),
    );
    await running.reload();
    expect(lines).toContainEqual(
      expect.objectContaining({ msg: "reload refused: keeping the running config" }),
    );
    expect(running.store.list("Trigger")).toHaveLength(0);
    expect(running.store.list("ConfigMap")).toHaveLength(0);
  });
});

describe("transport-encryption: permissive and disabled", () => {
  it.each([["permissive"], ["disabled"], ["Permissive"]])(
    "%s with TLS serves https:// and still delivers to an http:// subscriber",
    async (mode) => {
      const files = writePairFiles(serving, ca);
      const plain = await httpSink();
      const running = await startWithManifests(
        features(mode) + brokerYaml() + triggerYaml("plain", plain.url),
        { tls: { certFile: files.certFile, keyFile: files.keyFile } },
      );
      cleanups.push(() => running.close());
      expect(running.url).toMatch(/^https:/);
      expect(await postEvent(`${running.url}/default/default`, ca.cert, "x1")).toBe(202);
      await plain.waitFor(1);
    },
  );
});

describe("validation of config-features transport-encryption", () => {
  const configMap = (mode: string, namespace = "knative-eventing", name = "config-features") =>
    features(mode)
      .replace("namespace: knative-eventing", `namespace: ${namespace}`)
      .replace("name: config-features", `name: ${name}`)
      .replace(/---\n$/, "");

  it("an unknown mode is an issue naming the key and the modes", async () => {
    await expectIssue(
      configMap("stricter"),
      "data[transport-encryption]",
      'must be one of disabled, permissive, strict (got "stricter")',
    );
  });

  it.each([
    ["each mode in Knative's spelling", "strict"],
    ["a mode in another case (Knative compares case-insensitively)", "Permissive"],
  ])("%s is no issue", async (_name, mode) => {
    expect(await issuesWith(configMap(mode))).toEqual([]);
  });

  it("the same key in another ConfigMap is not a feature flag and is not checked", async () => {
    expect(await issuesWith(configMap("whatever", "default", "my-config"))).toEqual([]);
  });
});
