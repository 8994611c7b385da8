import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sumSeries } from "../support/eventail-process.js";
import {
  brokerYaml,
  eventually,
  type RecordingSink,
  startSink,
  startWithManifests,
} from "../support/sink.js";
import { makeTestCa, makeTestLeaf, type TestCa, type TestLeaf } from "../support/test-certs.js";
import { HttpsSink, postEvent, yamlBlock } from "./tls-harness.js";

/**
 * Outbound HTTPS (CONTRACT §10): a subscriber's certificate is verified against the system CAs
 * plus the destination's CACerts, never skipped. Without the right CA the delivery fails as a
 * connection error: retried, then dead-lettered.
 */

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

let ca: TestCa;
let otherCa: TestCa;
let leaf: TestLeaf;
beforeAll(async () => {
  ca = await makeTestCa("subscriber CA");
  otherCa = await makeTestCa("unrelated CA");
  leaf = await makeTestLeaf(ca);
});

async function httpsSink(): Promise<HttpsSink> {
  const started = await new HttpsSink().start(leaf);
  cleanups.push(() => started.close());
  return started;
}

async function httpSink(): Promise<RecordingSink> {
  const started = await startSink();
  cleanups.push(() => started.close());
  return started;
}

function caCertsLines(pem: string | undefined, indent: number): string {
  if (pem === undefined) return "";
  return `\n${" ".repeat(indent)}CACerts: |\n${yamlBlock(pem, indent + 2)}`;
}

/** A Trigger in `namespace` on its broker `default`, retried once, with a dead-letter sink. */
function trigger(
  namespace: string,
  subscriber: string,
  subscriberCa: string | undefined,
  deadLetter: string,
  deadLetterCa?: string,
): string {
  return `---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: secure
  namespace: ${namespace}
spec:
  broker: default
  subscriber:
    uri: ${subscriber}${caCertsLines(subscriberCa, 4)}
  delivery:
    retry: 1
    backoffDelay: PT0.01S
    deadLetterSink:
      uri: ${deadLetter}${caCertsLines(deadLetterCa, 6)}
`;
}

function brokerIn(namespace: string): string {
  return brokerYaml().replace("namespace: default", `namespace: ${namespace}`);
}

async function attempts(
  running: { metrics: { registry: { metrics(): Promise<string> } } },
  code: string,
) {
  return sumSeries(await running.metrics.registry.metrics(), "eventail_delivery_attempts_total", {
    code,
  });
}

describe("deliveries to https:// subscribers", () => {
  it.each([
    ["the subscriber's CA in spec.subscriber.CACerts is delivered", () => ca.cert, true],
    [
      "a bundle with an unrelated CA before the right one is delivered",
      () => otherCa.cert + ca.cert,
      true,
    ],
    [
      "no CACerts (a private CA is not a system CA) is retried and dead-lettered",
      () => undefined,
      false,
    ],
    ["an unrelated CA in CACerts is retried and dead-lettered", () => otherCa.cert, false],
  ])("%s", async (_name, subscriberCa, delivered) => {
    const subscriber = await httpsSink();
    const deadLetters = await httpSink();
    const running = await startWithManifests(
      brokerYaml() + trigger("default", subscriber.url, subscriberCa(), deadLetters.url),
    );
    cleanups.push(() => running.close());
    expect(await postEvent(`${running.url}/default/default`, undefined, "e1")).toBe(202);
    if (delivered) {
      await eventually(() => subscriber.events.length === 1, 10_000, "the delivery");
      expect(subscriber.events[0]?.attributes["id"]).toBe("e1");
      expect(deadLetters.requests).toHaveLength(0);
      return;
    }
    await deadLetters.waitFor(1);
    expect(subscriber.events).toHaveLength(0);
    const letter = deadLetters.events[0]!.attributes;
    expect(letter["knativeerrordest"]).toBe(subscriber.url);
    // A TLS failure is a connection error: no status, and retried like one (retry 1: 2 attempts).
    expect(letter["knativeerrorcode"]).toBeUndefined();
    expect(await attempts(running, "error")).toBe(2);
  });

  it("a CA trusted by another namespace's destination is not trusted here", async () => {
    const subscriber = await httpsSink();
    const deadLetters = await httpSink();
    const running = await startWithManifests(
      `${brokerIn("trusting")}${trigger("trusting", subscriber.url, ca.cert, deadLetters.url)}---\n${brokerIn("plain")}${trigger("plain", subscriber.url, undefined, deadLetters.url)}`,
    );
    cleanups.push(() => running.close());
    expect(await postEvent(`${running.url}/plain/default`, undefined, "from-plain")).toBe(202);
    expect(await postEvent(`${running.url}/trusting/default`, undefined, "from-trusting")).toBe(
      202,
    );
    await deadLetters.waitFor(1);
    await eventually(() => subscriber.events.length === 1, 10_000, "the trusted delivery");
    expect(subscriber.events.map((e) => e.attributes["id"])).toEqual(["from-trusting"]);
    expect(deadLetters.events.map((e) => e.attributes["id"])).toEqual(["from-plain"]);
  });

  it("an https dead-letter sink is verified against its own CACerts", async () => {
    const subscriber = await httpsSink(); // untrusted: every attempt fails
    const deadLetters = await httpsSink();
    const running = await startWithManifests(
      brokerYaml() + trigger("default", subscriber.url, undefined, deadLetters.url, ca.cert),
    );
    cleanups.push(() => running.close());
    expect(await postEvent(`${running.url}/default/default`, undefined, "to-dls")).toBe(202);
    await eventually(() => deadLetters.events.length === 1, 10_000, "the dead letter");
    expect(deadLetters.events[0]?.attributes["knativeerrordest"]).toBe(subscriber.url);
  });
});
